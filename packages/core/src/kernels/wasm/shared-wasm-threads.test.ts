import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Generator } from "../../random.js";
import { setGemm } from "../gemm.js";
import type { MatrixView } from "../gemm.js";
import { conv2dForwardWasm } from "../conv/conv2d-wasm.js";
import type { Conv2dWasmGeometry, ConvCall } from "../conv/conv2d-wasm.js";
import { installWasmConvThreads, stopWasmConvThreads, wasmConvThreadsActive, wasmConvThreadsEngine } from "./conv-wasm-threads.js";
import { gemmWasm } from "./gemm-wasm.js";
import { gemmWasmThreaded, installWasmGemmThreads, runRowsJobsThreaded, stopWasmGemmThreads, wasmThreadsActive } from "./gemm-wasm-threads.js";
import { runGemm } from "./run-gemm.js";
import { RowsJobs } from "./run-gemm.js";
import { publishThreadJobs, runningWasmThreads } from "./shared-wasm-threads.js";
import { ELEMENTWISE_JOB, GEMM_ROWS } from "./thread-job-kinds.js";
import { awaitJobs, claimJobs, jobFinished, liveWorkerCount, markReady } from "./thread-pool.js";
import { useNodeWorkers } from "../../node-worker-launcher.js";

useNodeWorkers();

/** The control block's count of finished jobs (thread-pool.ts). */
const FINISHED_SLOT = 3;

const gen = new Generator(23);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= 1e-3 * (1 + Math.abs(expected[i]!)))) {
      throw new Error(`${label}[${i}]: threaded ${actual[i]} vs one thread ${expected[i]}`);
    }
  }
}

// The batch-1000 inference product of the reference network's first fully-connected layer.
const M = 1000;
const N = 120;
const K = 256;
const fcA = random(M * K);
const fcB = random(K * N);

function fc(kernel: typeof gemmWasm): Float32Array {
  const c = new Float32Array(M * N);
  kernel(M, N, K, { data: fcA, offset: 0, ld: K, trans: false }, { data: fcB, offset: 0, ld: N, trans: false }, { data: c, offset: 0, ld: N }, false);
  return c;
}

// The reference network's first convolution on a batch of 64.
const geometry: Conv2dWasmGeometry = {
  batch: 64, inChannels: 1, inHeight: 28, inWidth: 28, outChannels: 8, groups: 1, kernelHeight: 5, kernelWidth: 5,
  strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0, dilationHeight: 1, dilationWidth: 1, outHeight: 24, outWidth: 24,
};
const convX = random(64 * 784);
const convW = random(8 * 25);
const convB = random(8);

function conv(): Float32Array {
  const out = new Float32Array(64 * 8 * 576);
  expect(conv2dForwardWasm(geometry, { data: convX, offset: 0 }, { data: convW, offset: 0 }, { data: convB, offset: 0 }, { data: out, offset: 0 }, { relu: true })).toBe(true);
  return out;
}

const fcSingle = fc(gemmWasm);
const convSingle = conv();

/** Both kernels on whatever threads are installed give what the calling thread alone gives. */
function expectBothMatch(): void {
  expectClose(fc(gemmWasmThreaded), fcSingle, "fc");
  expectClose(conv(), convSingle, "conv");
}

/** An address past the largest shared memory (1 GiB): any access there traps. */
const OUTSIDE = 0x7fff0000;

/** The fc product's operands, an output, and the running threads (3 of them) as a GEMM target. */
async function fcOnThreeThreads() {
  expect(await installWasmGemmThreads({ threads: 3 })).toBe(true);
  const t = runningWasmThreads()!;
  const a: MatrixView = { data: fcA, offset: 0, ld: K, trans: false };
  const b: MatrixView = { data: fcB, offset: 0, ld: N, trans: false };
  return { t, a, b, c: new Float32Array(M * N), target: { exports: t.exports, memory: t.memory, heap: null } };
}

describe("one set of worker threads for the WebAssembly convolution and GEMM", () => {
  afterEach(async () => {
    await stopWasmConvThreads();
    await stopWasmGemmThreads();
    expect(liveWorkerCount()).toBe(0);
  });
  afterAll(() => {
    setGemm(gemmWasm);
  });

  it("serves both kernels from threads - 1 workers, both matching one thread", async () => {
    expect(await installWasmConvThreads({ threads: 3 })).toBe(true);
    expect(await installWasmGemmThreads({ threads: 3 })).toBe(true);
    expect(wasmConvThreadsActive() && wasmThreadsActive()).toBe(true);
    expect(liveWorkerCount()).toBe(2);
    expect(runningWasmThreads()?.pool.workers.length).toBe(2);
    expect(wasmConvThreadsEngine()?.exports).toBe(runningWasmThreads()?.exports);
    expectBothMatch();
    expectBothMatch();
  });

  it("keeps the GEMM on the workers when the convolution stops using them, and the reverse", async () => {
    expect(await installWasmGemmThreads({ threads: 2 })).toBe(true);
    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    await stopWasmConvThreads();
    expect(wasmConvThreadsActive()).toBe(false);
    expect(wasmThreadsActive()).toBe(true);
    expect(liveWorkerCount()).toBe(1);
    expectBothMatch();

    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    expect(liveWorkerCount()).toBe(1);
    await stopWasmGemmThreads();
    expect(wasmThreadsActive()).toBe(false);
    expect(wasmConvThreadsActive()).toBe(true);
    expect(wasmConvThreadsEngine()?.threads).toBe(2);
    expect(liveWorkerCount()).toBe(1);
    expectBothMatch();

    await stopWasmConvThreads();
    expect(runningWasmThreads()).toBe(null);
    expect(liveWorkerCount()).toBe(0);
  });

  it("restarts for both users when one asks for another thread count", async () => {
    expect(await installWasmGemmThreads({ threads: 2 })).toBe(true);
    const first = runningWasmThreads();
    expect(await installWasmConvThreads({ threads: 3 })).toBe(true);
    expect(runningWasmThreads()).not.toBe(first);
    expect(runningWasmThreads()?.threads).toBe(3);
    expect(liveWorkerCount()).toBe(2);
    expect(wasmThreadsActive()).toBe(true);
    expect(wasmConvThreadsEngine()?.threads).toBe(3);
    expectBothMatch();

    expect(await installWasmGemmThreads({ threads: 1 })).toBe(true);
    expect(liveWorkerCount()).toBe(0);
    expect(wasmConvThreadsActive() && wasmThreadsActive()).toBe(true);
    expect(wasmConvThreadsEngine()?.threads).toBe(1);
    expectBothMatch();

    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    expect(liveWorkerCount()).toBe(1);
    expect(wasmThreadsActive()).toBe(true);
    expectBothMatch();
  });

  it("runs gemmRows jobs on the workers alone", async () => {
    const { t, a, b, c, target } = await fcOnThreeThreads();
    const done = runGemm(target, M, N, K, a, b, { data: c, offset: 0, ld: N }, false, 3, 8, (jobs) => {
      expect(jobs.count).toBe(8);
      publishThreadJobs(t, GEMM_ROWS, jobs.jobs, jobs.count, jobs.count, 0, jobs.works);
      awaitJobs(t.pool, jobs.count, (who) => `test: ${who} trapped`);
    });
    expect(done).toBe(true);
    expectClose(c, fcSingle, "fc on the workers");
  });

  it("staged jobs: the workers start none before it is marked ready, then compute as A's rows come in", async () => {
    const { t, a, b, c, target } = await fcOnThreeThreads();
    const readies: number[] = [];
    let opened = 0;
    const staged = {
      start: (jobs: RowsJobs): void => {
        opened = jobs.count;
        publishThreadJobs(t, GEMM_ROWS, jobs.jobs, jobs.count, 0, 0, jobs.works);
        const until = performance.now() + 20;
        while (performance.now() < until);
        // 20 ms after opening, nothing may have run: no job was ready.
        expect(Atomics.load(t.pool.control, FINISHED_SLOT)).toBe(0);
      },
      ready: (count: number): void => {
        readies.push(count);
        markReady(t.pool, count);
      },
      finish: (): void => awaitJobs(t.pool, opened, (who) => `test: ${who} trapped`),
    };
    const done = runGemm(target, M, N, K, a, b, { data: c, offset: 0, ld: N }, false, 3, 8, () => {
      throw new Error("a product cut by rows of a non-transposed A is staged, not executed at once");
    }, staged);
    expect(done).toBe(true);
    expect(opened).toBe(8);
    expect(readies).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 8]);
    expectClose(c, fcSingle, "fc, staged");
  });

  it("marks every job done in its own table when tables follow each other without pause", async () => {
    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    const t = runningWasmThreads()!;
    // ReLU (elementwiseJob kind 2) in place past the module's data: three jobs of microseconds and a
    // longer one, so that one thread often sleeps until the other's last job, whose notify delays that
    // thread while the next table opens (once, a worker delayed so claimed a job of the next table and
    // marked it done in the last one, and the calling thread waited for that job forever).
    const at = t.exports.heapBase() + 1024;
    const jobs = [[0, 16], [16, 32], [32, 48], [48, 4096]].map(([i0, i1]) => [2, at, at, i0!, i1!, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let stale = 0;
    for (let table = 0; table < 3000; table++) {
      publishThreadJobs(t, ELEMENTWISE_JOB, jobs, jobs.length, 0);
      markReady(t.pool, jobs.length);
      const error = claimJobs(t.pool, jobs.length, (j) => t.exports.elementwiseJob(2, at, at, jobs[j]![3]!, jobs[j]![4]!, 0, 0, 0, 0, 0, 0, 0, 0, 0));
      awaitJobs(t.pool, jobs.length, (who) => `test: ${who} trapped`, error);
      // All finished: each must be marked so in this table (the calling thread waits on these marks to copy results out).
      for (let j = 0; j < jobs.length; j++) if (!jobFinished(t.pool, j)) stale++;
    }
    expect(stale).toBe(0);
  });

  it("names the operation when a worker traps, and the threads work on afterwards", async () => {
    expect(await installWasmConvThreads({ threads: 3 })).toBe(true);
    expect(await installWasmGemmThreads({ threads: 3 })).toBe(true);
    const engine = wasmConvThreadsEngine()!;
    const badConv: ConvCall = [0, OUTSIDE, 1, OUTSIDE, OUTSIDE, 0, OUTSIDE, 1, 0, OUTSIDE, OUTSIDE, OUTSIDE, 0, 0, 0];
    const open = engine.launch!([badConv, badConv], 0, false);
    // Which thread claims a bad job first is a race: either may be the one that traps.
    expect(() => open.finish(() => undefined)).toThrow(/^conv2dForwardWasm: (a worker|the calling thread) trapped while computing its share of the images$/);
    expect(() => engine.run([badConv, badConv, badConv])).toThrow(/^conv2dForwardWasm: (a worker|the calling thread) trapped/);

    const bad = new RowsJobs();
    bad.clear(4, 8, 8);
    for (let j = 0; j < 4; j++) bad.add(0, 4, 8, 8, OUTSIDE, 8, 0, OUTSIDE, 8, 0, OUTSIDE, 8, 0);
    bad.works.push(OUTSIDE, OUTSIDE, OUTSIDE);
    expect(() => runRowsJobsThreaded(runningWasmThreads()!, bad)).toThrow(
      /^gemmWasmThreaded: (a worker|the calling thread) trapped while computing its part of a 4×8×8 product$/,
    );
    expectBothMatch();
  });
});
