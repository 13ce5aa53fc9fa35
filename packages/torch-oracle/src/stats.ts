import { appendFileSync } from "node:fs";
import { relative } from "node:path";
import { expect } from "vitest";

export interface Deviation {
  /** Largest |pico - torch| / (|torch| + max |torch| of that array) seen. */
  deviation: number;
  /** What it was measured on: "<label> float32 grad b". */
  where: string;
}

export interface OracleStats {
  /** compareWithTorch calls that passed (one per dtype). */
  cases: number;
  /** Arrays compared (outputs and gradients). */
  arrays: number;
  /** Elements compared. */
  elements: number;
  worst: { float64: Deviation; float32: Deviation };
}

const stats: OracleStats = {
  cases: 0,
  arrays: 0,
  elements: 0,
  worst: { float64: { deviation: 0, where: "" }, float32: { deviation: 0, where: "" } },
};

/** Totals for this process (one test file). Set PICO_TORCH_STATS=<file> to also get one JSON line per case appended there. */
export function oracleStats(): OracleStats {
  return structuredClone(stats);
}

export function recordCase(dtype: "float32" | "float64", label: string, arrays: number, elements: number, worst: Deviation): void {
  stats.cases += 1;
  stats.arrays += arrays;
  stats.elements += elements;
  if (worst.deviation > stats.worst[dtype].deviation) stats.worst[dtype] = worst;
  appendStat({ label, dtype, arrays, elements, deviation: worst.deviation, where: worst.where });
}

/** One array compared by expectTorchClose (outside compareWithTorch). */
export function recordArray(dtype: "float32" | "float64", label: string, elements: number, deviation: number): void {
  stats.arrays += 1;
  stats.elements += elements;
  if (deviation > stats.worst[dtype].deviation) stats.worst[dtype] = { deviation, where: label };
  appendStat({ label, dtype, arrays: 1, elements, deviation, where: label, kind: "array" });
}

/** One line of PICO_TORCH_STATS (when set): a case or an array comparison, with the test file it ran in. */
export interface StatLine {
  label: string;
  dtype: "float32" | "float64";
  arrays: number;
  elements: number;
  deviation: number;
  where: string;
  /** "array" for expectTorchClose; absent for a compareWithTorch case (one per dtype). */
  kind?: "array";
  /** The test file, relative to the working directory. */
  file?: string;
}

function appendStat(line: Omit<StatLine, "file">): void {
  const target = process.env.PICO_TORCH_STATS;
  if (!target) return;
  const path = expect.getState().testPath;
  const file = path === undefined ? undefined : relative(process.cwd(), path);
  appendFileSync(target, `${JSON.stringify({ ...line, file })}\n`);
}
