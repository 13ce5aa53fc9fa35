import type { SystemName } from "./spawn-worker.js";
import type { WorkerResult } from "./worker-cli.js";

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

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
  system: SystemName;
  runs: number;
  trainImagesPerSec: Statistic;
  inferImagesPerSec: Statistic;
  /** Images per second of process CPU time (all threads): steadier than wall time on a busy machine. */
  trainImagesPerCpuSec: Statistic;
  inferImagesPerCpuSec: Statistic;
  peakRssMB: Statistic;
  peakRssTrainMB: Statistic;
  firstLoss: number;
  lossAfterTraining: number;
  trainStepsPerRun: number;
  inferCount: number;
  info: WorkerResult["info"];
}

export function summarize(system: SystemName, results: readonly WorkerResult[]): SystemSummary {
  const mine = results.filter((r) => r.system === system);
  const first = mine[0];
  if (first === undefined) throw new Error(`summarize: no results for ${system}`);
  return {
    system,
    runs: mine.length,
    trainImagesPerSec: statistic(mine.map((r) => r.trainImagesPerSec)),
    inferImagesPerSec: statistic(mine.map((r) => r.inferImagesPerSec)),
    trainImagesPerCpuSec: statistic(mine.map((r) => r.trainImages / r.trainCpuSeconds)),
    inferImagesPerCpuSec: statistic(mine.map((r) => (r.inferCount * r.inferReps) / r.inferCpuSeconds)),
    peakRssMB: statistic(mine.map((r) => r.peakRssMB)),
    peakRssTrainMB: statistic(mine.map((r) => r.peakRssTrainMB)),
    firstLoss: first.firstLoss,
    lossAfterTraining: first.lossAfterTraining,
    trainStepsPerRun: first.trainSteps,
    inferCount: first.inferCount,
    info: first.info,
  };
}

export interface Ratios {
  train: number;
  infer: number;
  peakRss: number;
}

/** Pico.ts / tfjs-wasm for each figure (medians): > 1 is faster for speeds, < 1 is leaner for memory. */
export function ratios(pico: SystemSummary, tfjs: SystemSummary): Ratios {
  return {
    train: pico.trainImagesPerSec.median / tfjs.trainImagesPerSec.median,
    infer: pico.inferImagesPerSec.median / tfjs.inferImagesPerSec.median,
    peakRss: pico.peakRssMB.median / tfjs.peakRssMB.median,
  };
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

export function formatTable(summaries: readonly SystemSummary[], r: Ratios | null): string {
  const header = ["system", "runs", "train img/s", "(min-max)", "infer img/s", "(min-max)", "peak RSS MB"];
  const rows = summaries.map((s) => [
    s.system,
    String(s.runs),
    fixed(s.trainImagesPerSec.median, 0),
    `${fixed(s.trainImagesPerSec.min, 0)}-${fixed(s.trainImagesPerSec.max, 0)}`,
    fixed(s.inferImagesPerSec.median, 0),
    `${fixed(s.inferImagesPerSec.min, 0)}-${fixed(s.inferImagesPerSec.max, 0)}`,
    fixed(s.peakRssMB.median, 0),
  ]);
  if (r !== null) rows.push(["pico / tfjs-wasm", "", `${fixed(r.train, 2)}x`, "", `${fixed(r.infer, 2)}x`, "", `${fixed(r.peakRss, 2)}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!, i > 0)).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
