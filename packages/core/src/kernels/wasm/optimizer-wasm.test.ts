import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { optimizerJs, optimizerWasm, type AdamHyper, type SgdHyper } from "../optimizer.js";
import { kernelInfo } from "../registry.js";
import { target } from "./elementwise-wasm.js";
import type { ElementwiseLaunch, Target } from "./elementwise-wasm.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./elementwise-wasm-threads.js";
import { wasmAvailable } from "./engine.js";

// Where a call runs, watched (still choosing as before) so that a test can see the jobs a call hands out,
// or have them all run by the calling thread, in an order of its choosing, as if no worker came.
vi.mock("./elementwise-wasm.js", async (original) => {
  const actual = await original<typeof import("./elementwise-wasm.js")>();
  return { ...actual, target: vi.fn(actual.target) };
});

const { target: actualTarget } = await vi.importActual<typeof import("./elementwise-wasm.js")>("./elementwise-wasm.js");

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

/** The chunks each split call of the next `calls` handed out (its ready counts before the last, which opens every job). */
function watchHandOuts(calls: number, order?: (count: number) => number[]): number[][] {
  const handedOut: number[][] = [];
  for (let c = 0; c < calls; c++) {
    vi.mocked(target).mockImplementationOnce((elements, minimum) => {
      const t = actualTarget(elements, minimum);
      if (t?.threads == null) return t;
      const threads = t.threads;
      const counts: number[] = [];
      handedOut.push(counts);
      const launch = (jobs: number[][]): ElementwiseLaunch => {
        const open = order === undefined ? threads.launch(jobs) : null;
        return {
          ready: (count) => {
            counts.push(count);
            open?.ready(count);
          },
          finish: (run, done) => {
            counts.pop();
            if (open !== null) return open.finish(run, done);
            // No worker came: the calling thread runs every job, in the given order, then hands each over.
            for (const j of order!(jobs.length)) run(j);
            for (let j = 0; j < jobs.length; j++) done(j);
          },
        };
      };
      return { ...t, threads: { ...threads, launch } } satisfies Target;
    });
  }
  return handedOut;
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

  function adamAgainstLoops(n: number, h: AdamHyper, decoupled: boolean): void {
    const [p, g, m] = [view(n, 4), view(n, 5), view(n, 6)];
    const v = view(n, 7).map(Math.abs);
    const vmax = h.amsgrad ? view(n, 8).map((x, i) => (i % 3 === 0 ? Math.abs(x) : x)) : null;
    const [p2, m2, v2, vmax2] = [p.slice(), m.slice(), v.slice(), vmax?.slice() ?? null];
    optimizerWasm.adam(p, g, m, v, vmax, 5, h, decoupled);
    optimizerJs.adam(p2, g, m2, v2, vmax2, 5, h, decoupled);
    expect([firstDifference(p, p2), firstDifference(m, m2), firstDifference(v, v2)]).toEqual([-1, -1, -1]);
    if (vmax !== null) expect(firstDifference(vmax, vmax2!)).toBe(-1);
  }

  // 8,191 floats stay on the calling thread; 8,195 and 30,723 are shared (the last chunk not a multiple of
  // 4); 140,003 in more chunks than a job table holds, so of more than 2,048 floats each.
  it.each(adamCases)("%s: p, m, v (and vmax) bit for bit, shared with the worker from 8,192 elements on", (_, options, decoupled) => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options };
    for (const n of [8_191, 8_195, 30_723, 140_003]) {
      const handedOut = watchHandOuts(1);
      adamAgainstLoops(n, h, decoupled);
      // The first job goes out before the calling thread computes its second chunk.
      if (n < 8192) expect(handedOut).toEqual([]);
      else expect(handedOut[0]![0]).toBe(1);
    }
  });

  it.each([
    ["in order", (count: number) => Array.from({ length: count }, (_, j) => j)],
    ["last first", (count: number) => Array.from({ length: count }, (_, j) => count - 1 - j)],
  ])("with no worker coming, the calling thread runs the jobs it handed out (%s): the same bits", (_, order) => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1, amsgrad: true, maximize: false };
    const handedOut = watchHandOuts(1, order);
    adamAgainstLoops(30_723, h, true);
    // Two jobs wait for the one worker, and none is taken.
    expect(handedOut).toEqual([[1, 2]]);
  });

  it("SGD with momentum stays on the calling thread (its copies through the shared memory cost more than its compute)", () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    const [p, g, buf] = [view(40_003, 1), view(40_003, 2), view(40_003, 3)];
    const [p2, buf2] = [p.slice(), buf.slice()];
    vi.mocked(target).mockClear();
    optimizerWasm.sgd(p, g, buf, false, h);
    expect(vi.mocked(target)).not.toHaveBeenCalled();
    optimizerJs.sgd(p2, g, buf2, false, h);
    expect([firstDifference(p, p2), firstDifference(buf, buf2)]).toEqual([-1, -1]);
  });

  it("leaves the elements around a view unchanged", () => {
    const h: AdamHyper = { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    const backing = new Float32Array(40_010).fill(7);
    const p = backing.subarray(2, 40_003);
    const [m, v] = [new Float32Array(40_001), new Float32Array(40_001)];
    const handedOut = watchHandOuts(1);
    optimizerWasm.adam(p, new Float32Array(40_001).fill(1), m, v, null, 1, h, false);
    expect(handedOut[0]![0]).toBe(1);
    // m = 0.1, v = 0.001, p -= 0.5 / 0.1 · 0.1 / (sqrt(0.001) / sqrt(0.001) + 1e-8): 7 - 0.5 in f32.
    expect([backing[0], backing[1], backing[40_003], backing[40_009]]).toEqual([7, 7, 7, 7]);
    expect(p.every((x) => x === p[0] && Math.abs(x - 6.5) < 1e-6)).toBe(true);
  });
});
