import { Generator, Tensor, compile, countTypedArrays, noGrad } from "@pico/core";
import type { Module } from "@pico/nn";
import { exportOnnx } from "@pico/onnx";
import * as ort from "onnxruntime-node";
import { median } from "./median.js";
import { stateDictOf } from "./named-weight.js";
import { referenceModel } from "./pico-network.js";
import { IMAGE_SHAPE, MNIST_MEAN, MNIST_STD, referenceWeights } from "./reference-network.js";

// Inference latency of the reference network three ways on the same weights and images: Pico eager
// (noGrad, eval), Pico compiled (compile: the captured graph replayed on planned buffers) and the
// exportOnnx file in onnxruntime-node (one intra-op thread, as Pico runs on one). Rounds alternate the
// three; medians. Plus what each Pico way allocates per call.

export const LATENCY_RUNNERS = ["pico eager", "pico compiled", "onnxruntime"] as const;
export type LatencyRunner = (typeof LATENCY_RUNNERS)[number];

export interface LatencyOptions {
  batches: readonly number[];
  rounds: number;
  seed: number;
  /** Calls per round at batch 1; larger batches get proportionally fewer (at least 2). */
  callsAtBatch1: number;
  /** Compiled calls over which heap growth is measured at batch 1 (needs node --expose-gc; 0 skips it). */
  heapCalls: number;
}

export interface LatencyRow {
  batch: number;
  /** Median milliseconds per call, per runner. */
  medians: Record<LatencyRunner, number>;
  /** Every round's milliseconds per call, per runner. */
  rounds: Record<LatencyRunner, number[]>;
  /** Typed arrays (and their bytes) created per call after the first, measured over `allocationCalls` calls. */
  allocations: Record<"pico eager" | "pico compiled", { arrays: number; bytes: number }>;
  allocationCalls: number;
  /** Largest |compiled − eager| and |onnxruntime − eager| over the outputs. */
  maxDifference: { compiled: number; onnxruntime: number };
  /** Bytes of the compiled graph's arena, and what its buffers would take without reuse. */
  arenaBytes: number;
  unplannedBytes: number;
}

export interface LatencyResult {
  rows: LatencyRow[];
  /** Heap bytes (after garbage collection) gained over `heapCalls` compiled calls at batch 1; null without --expose-gc. */
  heapGrowth: { calls: number; compiled: number | null; eager: number | null };
  onnxBytes: number;
}

/** The reference network with the benchmark's seeded weights, in evaluation mode. */
function referenceNetwork(seed: number): Module {
  const model = referenceModel();
  model.loadStateDict(stateDictOf(referenceWeights(seed)));
  model.eval();
  return model;
}

/** Pixels in [0, 1) from a seeded generator, normalised as the trainer feeds them. */
function images(batch: number, seed: number): Tensor {
  return Tensor.rand([batch, ...IMAGE_SHAPE], { generator: new Generator(seed + 1) }).sub(MNIST_MEAN).div(MNIST_STD);
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function perCall(count: { arrays: number; bytes: number }, calls: number): { arrays: number; bytes: number } {
  return { arrays: count.arrays / calls, bytes: count.bytes / calls };
}

function heapAfterGc(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return null;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Heap growth over `calls` calls after as many untimed ones (the first thousands grow the heap with the JIT's feedback and code, then it stays flat). */
function heapGrowthOver(calls: number, run: () => void): number | null {
  for (let i = 0; i < calls; i++) run();
  const before = heapAfterGc();
  if (before === null) return null;
  for (let i = 0; i < calls; i++) run();
  return heapAfterGc()! - before;
}

export async function measureInferenceLatency(options: LatencyOptions): Promise<LatencyResult> {
  const model = referenceNetwork(options.seed);
  const rows: LatencyRow[] = [];
  let onnxBytes = 0;
  for (const batch of options.batches) {
    const x = images(batch, options.seed);
    const eager = (): Tensor => noGrad(() => model.call(x) as Tensor);
    const compiled = compile(model, x);
    const bytes = exportOnnx(model, x);
    onnxBytes = bytes.length;
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const feed = { input: new ort.Tensor("float32", x.toTypedArray() as Float32Array, x.shape) };
    const reference = eager().toTypedArray();
    const served = (await session.run(feed))["output"]!.data as Float32Array;
    const maxDifference = { compiled: maxAbsDifference(compiled(x).toTypedArray(), reference), onnxruntime: maxAbsDifference(served, reference) };

    const calls = Math.max(2, Math.round(options.callsAtBatch1 / batch));
    const allocationCalls = Math.max(2, Math.min(calls, 100));
    const allocations = {
      "pico eager": perCall(countTypedArrays(() => { for (let i = 0; i < allocationCalls; i++) eager(); }), allocationCalls),
      "pico compiled": perCall(countTypedArrays(() => { for (let i = 0; i < allocationCalls; i++) compiled(x); }), allocationCalls),
    };
    const rounds: Record<LatencyRunner, number[]> = { "pico eager": [], "pico compiled": [], onnxruntime: [] };
    const timers: Record<LatencyRunner, () => Promise<void> | void> = {
      "pico eager": () => void eager(),
      "pico compiled": () => void compiled(x),
      onnxruntime: async () => void (await session.run(feed)),
    };
    for (const runner of LATENCY_RUNNERS) for (let i = 0; i < calls; i++) await timers[runner]();
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? LATENCY_RUNNERS : [...LATENCY_RUNNERS].reverse();
      for (const runner of order) {
        const run = timers[runner];
        await run();
        const start = performance.now();
        for (let i = 0; i < calls; i++) await run();
        rounds[runner].push((performance.now() - start) / calls);
      }
    }
    const medians = Object.fromEntries(LATENCY_RUNNERS.map((r) => [r, median(rounds[r])])) as Record<LatencyRunner, number>;
    const plan = compiled.session.plan;
    rows.push({ batch, medians, rounds, allocations, allocationCalls, maxDifference, arenaBytes: plan.arenaBytes, unplannedBytes: plan.unplannedBytes });
    await session.release();
  }
  const x1 = images(1, options.seed);
  const compiled1 = compile(model, x1);
  const heapGrowth = {
    calls: options.heapCalls,
    compiled: options.heapCalls > 0 ? heapGrowthOver(options.heapCalls, () => void compiled1(x1)) : null,
    eager: options.heapCalls > 0 ? heapGrowthOver(options.heapCalls, () => void noGrad(() => model.call(x1))) : null,
  };
  return { rows, heapGrowth, onnxBytes };
}

const ms = (v: number): string => (v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** The Markdown table bench/README.md quotes. */
export function formatLatencyTable(result: LatencyResult): string {
  const lines = [
    "| batch | Pico eager (noGrad, eval) | Pico compiled | onnxruntime-node, 1 thread | compiled vs eager | typed arrays per call: eager / compiled |",
    "|---|---|---|---|---|---|",
  ];
  for (const row of result.rows) {
    const m = row.medians;
    const a = row.allocations;
    lines.push(
      `| ${row.batch} | ${ms(m["pico eager"])} ms | ${ms(m["pico compiled"])} ms | ${ms(m.onnxruntime)} ms | ${(m["pico eager"] / m["pico compiled"]).toFixed(2)}x faster | ` +
        `${a["pico eager"].arrays.toFixed(1)} (${(a["pico eager"].bytes / 1024).toFixed(1)} KiB) / ${a["pico compiled"].arrays.toFixed(1)} (${(a["pico compiled"].bytes / 1024).toFixed(1)} KiB) |`,
    );
  }
  const notes = result.rows.map(
    (r) =>
      `batch ${r.batch}: max |compiled - eager| ${r.maxDifference.compiled.toExponential(1)}, |onnxruntime - eager| ${r.maxDifference.onnxruntime.toExponential(1)}; ` +
      `arena ${(r.arenaBytes / 1024).toFixed(1)} KiB for ${(r.unplannedBytes / 1024).toFixed(1)} KiB of intermediates; rounds (ms) eager ${r.rounds["pico eager"].map(ms).join(" ")}, ` +
      `compiled ${r.rounds["pico compiled"].map(ms).join(" ")}, onnxruntime ${r.rounds.onnxruntime.map(ms).join(" ")}`,
  );
  const heap = result.heapGrowth;
  const kib = (b: number | null): string => (b === null ? "not measured (run node with --expose-gc)" : `${(b / 1024).toFixed(1)} KiB`);
  if (heap.calls > 0) notes.push(`heap after gc, grown over ${heap.calls} calls at batch 1: compiled ${kib(heap.compiled)}, eager ${kib(heap.eager)}`);
  notes.push(`ONNX file: ${result.onnxBytes} bytes`);
  return [...lines, "", ...notes].join("\n");
}
