import type { FlopCount } from "./flops.js";
import { median } from "./median.js";
import type { WorkerResult } from "./worker-cli.js";

export interface Statistic {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

function statistic(values: number[]): Statistic {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), rounds: values };
}

export interface SystemSummary {
  /** The run's label: `pico 2t`, `torch 1t`, `tfjs-wasm`. */
  system: string;
  runs: number;
  trainImagesPerSec: Statistic;
  inferImagesPerSec: Statistic;
  /** Median img/s times the network's FLOPs per image (convolutions and linear layers), in GFLOP/s. */
  trainGflops: number;
  inferGflops: number;
  /** Images per second of process CPU time (all threads): steadier than wall time on a busy machine. */
  trainImagesPerCpuSec: Statistic;
  inferImagesPerCpuSec: Statistic;
  /** Process CPU time over wall time while training: how many cores were busy. */
  trainCoresBusy: Statistic;
  peakRssMB: Statistic;
  peakRssTrainMB: Statistic;
  firstLoss: number;
  lossAfterTraining: number;
  /** Timed training steps of each run (at least --steps; more where they took under --min-timed-seconds). */
  trainSteps: Statistic;
  /** Timed inference calls of each run, likewise. */
  inferCalls: Statistic;
  inferCount: number;
  info: WorkerResult["info"];
}

export function summarize(label: string, results: readonly WorkerResult[], flops: FlopCount): SystemSummary {
  const mine = results.filter((r) => r.system === label);
  const first = mine[0];
  if (first === undefined) throw new Error(`summarize: no results for ${label}`);
  const train = statistic(mine.map((r) => r.trainImagesPerSec));
  const infer = statistic(mine.map((r) => r.inferImagesPerSec));
  return {
    system: label,
    runs: mine.length,
    trainImagesPerSec: train,
    inferImagesPerSec: infer,
    trainGflops: (train.median * flops.train) / 1e9,
    inferGflops: (infer.median * flops.forward) / 1e9,
    trainImagesPerCpuSec: statistic(mine.map((r) => r.trainImages / r.trainCpuSeconds)),
    inferImagesPerCpuSec: statistic(mine.map((r) => (r.inferCount * r.inferReps) / r.inferCpuSeconds)),
    trainCoresBusy: statistic(mine.map((r) => r.trainCpuSeconds / r.trainSeconds)),
    peakRssMB: statistic(mine.map((r) => r.peakRssMB)),
    peakRssTrainMB: statistic(mine.map((r) => r.peakRssTrainMB)),
    firstLoss: first.firstLoss,
    lossAfterTraining: first.lossAfterTraining,
    trainSteps: statistic(mine.map((r) => r.trainSteps)),
    inferCalls: statistic(mine.map((r) => r.inferReps)),
    inferCount: first.inferCount,
    info: first.info,
  };
}

export interface Ratio {
  /** `pico 2t / tfjs-wasm`. */
  name: string;
  train: number;
  infer: number;
  peakRss: number;
}

/** a / b for each figure (medians): > 1 is faster for speeds, < 1 is leaner for memory. */
export function ratio(a: SystemSummary, b: SystemSummary): Ratio {
  return {
    name: `${a.system} / ${b.system}`,
    train: a.trainImagesPerSec.median / b.trainImagesPerSec.median,
    infer: a.inferImagesPerSec.median / b.inferImagesPerSec.median,
    peakRss: a.peakRssMB.median / b.peakRssMB.median,
  };
}

/**
 * The comparisons the issue asks for, among the runs present: each Pico run against tfjs-wasm and
 * against PyTorch at the same thread count, and each threaded system's 2-thread over 1-thread scaling.
 */
export function comparisons(summaries: readonly SystemSummary[]): Ratio[] {
  const by = new Map(summaries.map((s) => [s.system, s]));
  const out: Ratio[] = [];
  const picos = summaries.filter((s) => s.system.startsWith("pico "));
  const wasm = by.get("tfjs-wasm");
  for (const p of picos) if (wasm !== undefined) out.push(ratio(p, wasm));
  for (const p of picos) {
    const torch = by.get(p.system.replace("pico", "torch"));
    if (torch !== undefined) out.push(ratio(p, torch));
  }
  for (const system of ["pico", "torch"]) {
    const one = by.get(`${system} 1t`);
    for (const s of summaries) {
      if (one !== undefined && s !== one && s.system.startsWith(`${system} `)) out.push(ratio(s, one));
    }
  }
  return out;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!, i > 0)).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function formatTable(summaries: readonly SystemSummary[]): string {
  const header = ["system", "runs", "train img/s", "(min-max)", "GFLOP/s", "cores", "infer img/s", "(min-max)", "GFLOP/s", "peak RSS MB"];
  const rows = summaries.map((s) => [
    s.system,
    String(s.runs),
    fixed(s.trainImagesPerSec.median, 0),
    `${fixed(s.trainImagesPerSec.min, 0)}-${fixed(s.trainImagesPerSec.max, 0)}`,
    fixed(s.trainGflops, 1),
    fixed(s.trainCoresBusy.median, 2),
    fixed(s.inferImagesPerSec.median, 0),
    `${fixed(s.inferImagesPerSec.min, 0)}-${fixed(s.inferImagesPerSec.max, 0)}`,
    fixed(s.inferGflops, 1),
    fixed(s.peakRssMB.median, 0),
  ]);
  return table(header, rows);
}

export function formatRatios(ratios: readonly Ratio[]): string {
  return table(
    ["ratio (medians)", "train", "infer", "peak RSS"],
    ratios.map((r) => [r.name, `${fixed(r.train, 2)}x`, `${fixed(r.infer, 2)}x`, `${fixed(r.peakRss, 2)}x`]),
  );
}
