import { afterAll, describe, expect, it } from "vitest";
import { Tensor, manualSeed, tensor } from "./index.js";
import { liveWorkerCount } from "./kernels/wasm/thread-pool.js";
import { disableThreads, enableThreads, wasmConvThreadsActive, wasmThreadsActive } from "./threads.js";

describe("@pico/core/threads", () => {
  afterAll(() => disableThreads());

  it("enables and disables the threads of both kernels, and a large matmul gives the same product with threads", async () => {
    manualSeed(11);
    const a = Tensor.randn([300, 200]);
    const b = Tensor.randn([200, 150]);
    const single = a.matmul(b).toTypedArray();
    expect(await enableThreads(2)).toBe(true);
    expect(wasmThreadsActive() && wasmConvThreadsActive()).toBe(true);
    const threaded = a.matmul(b).toTypedArray();
    threaded.forEach((v, i) => expect(Math.abs(v - single[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(single[i]!))));
    await disableThreads();
    expect(wasmThreadsActive() || wasmConvThreadsActive()).toBe(false);
    expect(tensor([[1, 2]]).matmul(tensor([[3], [4]])).item()).toBe(11);
  });

  it("starts threads - 1 worker threads in all, shared by the convolution and the GEMM", async () => {
    expect(await enableThreads(2)).toBe(true);
    expect(liveWorkerCount()).toBe(1);
    expect(await enableThreads(3)).toBe(true);
    expect(liveWorkerCount()).toBe(2);
    expect(wasmThreadsActive() && wasmConvThreadsActive()).toBe(true);
    expect(await enableThreads(1)).toBe(true);
    expect(liveWorkerCount()).toBe(0);
    await disableThreads();
    expect(liveWorkerCount()).toBe(0);
  });
});
