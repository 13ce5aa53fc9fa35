import { afterAll, describe, expect, it } from "vitest";
import { Tensor, manualSeed, tensor } from "./index.js";
import { disableThreads, enableThreads, wasmConvThreadsActive, wasmThreadsActive } from "./threads.js";

describe("@pico/core/threads", () => {
  afterAll(() => disableThreads());

  it("enables and disables both thread pools, and a large matmul gives the same product with threads", async () => {
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
});
