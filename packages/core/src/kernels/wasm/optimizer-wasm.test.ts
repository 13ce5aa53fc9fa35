import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { optimizerJs, optimizerWasm, type AdamHyper, type SgdHyper } from "../optimizer.js";
import { kernelInfo } from "../registry.js";
import { run } from "./elementwise-wasm.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./elementwise-wasm-threads.js";
import { wasmAvailable } from "./engine.js";

// The staged runner, watched (still running) so that a test can tell that a call split into jobs.
vi.mock("./elementwise-wasm.js", async (original) => {
  const actual = await original<typeof import("./elementwise-wasm.js")>();
  return { ...actual, run: vi.fn(actual.run) };
});

useNodeWorkers();

// With the threads running, a large parameter's update splits across them by element ranges: every range
// must give the TypeScript loop's bits (and so one thread's), over values with NaN, infinities, -0 and
// subnormals, lengths that are not a multiple of 4, and arrays that are views into larger buffers.

const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1e-40, -3e-39];

/** A Float32Array of `length` values seen through a view that starts 3 floats into a larger buffer. */
function view(length: number, seed: number): Float32Array {
  const backing = new Float32Array(length + 7);
  for (let i = 0; i < length; i++) backing[i + 3] = i % 11 === 3 ? SPECIAL[(i + seed) % SPECIAL.length]! : Math.sin(i * 1.7 + seed) * (1 + (i % 5));
  return backing.subarray(3, 3 + length);
}

/** The first index where a and b differ bit for bit, or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Int32Array(a.buffer, a.byteOffset, a.length), new Int32Array(b.buffer, b.byteOffset, b.length)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Jobs of the staged calls since the last look: one entry per call. */
function splitCalls(): number[] {
  const calls = vi.mocked(run).mock.calls.map(([, jobs]) => jobs.length);
  vi.mocked(run).mockClear();
  return calls;
}

describe.skipIf(!wasmAvailable())("the optimizer kernel on 2 threads", () => {
  beforeAll(async () => {
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
  });
  afterAll(async () => {
    await stopWasmElementwiseThreads();
  });

  const adamCases: [string, Partial<AdamHyper>, boolean][] = [
    ["Adam", {}, false],
    ["Adam, amsgrad, maximize, coupled decay", { amsgrad: true, maximize: true, weightDecay: 0.05, betas: [0.8, 0.95] }, false],
    ["AdamW, amsgrad, eps 1e-3", { weightDecay: 0.1, amsgrad: true, eps: 1e-3 }, true],
  ];
  it("reports the threads Adam splits across", () => {
    expect(kernelInfo().families["optimizer"]).toEqual({ backend: "wasm", threads: 2, available: ["wasm", "js"] });
  });

  // 8,191 floats stay on the calling thread; 8,195 and 30,723 split (the last range not a multiple of 4).
  it.each(adamCases)("%s: p, m, v (and vmax) bit for bit, split from 8,192 elements on", (_, options, decoupled) => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options };
    for (const n of [8_191, 8_195, 30_723]) {
      const [p, g, m] = [view(n, 4), view(n, 5), view(n, 6)];
      const v = view(n, 7).map(Math.abs);
      const vmax = h.amsgrad ? view(n, 8).map((x, i) => (i % 3 === 0 ? Math.abs(x) : x)) : null;
      const [p2, m2, v2, vmax2] = [p.slice(), m.slice(), v.slice(), vmax?.slice() ?? null];
      splitCalls();
      optimizerWasm.adam(p, g, m, v, vmax, 5, h, decoupled);
      expect(splitCalls()).toEqual(n < 8192 ? [] : [8]);
      optimizerJs.adam(p2, g, m2, v2, vmax2, 5, h, decoupled);
      expect([firstDifference(p, p2), firstDifference(m, m2), firstDifference(v, v2)]).toEqual([-1, -1, -1]);
      if (vmax !== null) expect(firstDifference(vmax, vmax2!)).toBe(-1);
    }
  });

  it("SGD with momentum stays on the calling thread (its copies through the shared memory cost more than its compute)", () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    const [p, g, buf] = [view(40_003, 1), view(40_003, 2), view(40_003, 3)];
    const [p2, buf2] = [p.slice(), buf.slice()];
    splitCalls();
    optimizerWasm.sgd(p, g, buf, false, h);
    expect(splitCalls()).toEqual([]);
    optimizerJs.sgd(p2, g, buf2, false, h);
    expect([firstDifference(p, p2), firstDifference(buf, buf2)]).toEqual([-1, -1]);
  });

  it("leaves the elements around a view unchanged", () => {
    const h: AdamHyper = { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    const backing = new Float32Array(40_010).fill(7);
    const p = backing.subarray(2, 40_003);
    const [m, v] = [new Float32Array(40_001), new Float32Array(40_001)];
    optimizerWasm.adam(p, new Float32Array(40_001).fill(1), m, v, null, 1, h, false);
    expect(splitCalls()).toEqual([8]);
    // m = 0.1, v = 0.001, p -= 0.5 / 0.1 · 0.1 / (sqrt(0.001) / sqrt(0.001) + 1e-8): 7 - 0.5 in f32.
    expect([backing[0], backing[1], backing[40_003], backing[40_009]]).toEqual([7, 7, 7, 7]);
    expect(p.every((x) => x === p[0] && Math.abs(x - 6.5) < 1e-6)).toBe(true);
  });
});
