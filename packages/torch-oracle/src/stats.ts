import { appendFileSync } from "node:fs";

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
  const file = process.env.PICO_TORCH_STATS;
  if (file) appendFileSync(file, `${JSON.stringify({ label, dtype, arrays, elements, deviation: worst.deviation, where: worst.where })}\n`);
}
