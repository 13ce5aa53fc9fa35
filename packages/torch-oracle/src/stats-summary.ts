import type { StatLine } from "./stats.js";

/** Comparisons with torch of one package (or any group of test files). */
export interface PackageSummary {
  /** Test files that compared anything. */
  files: number;
  /** compareWithTorch cases, one per dtype run. */
  cases: number;
  /** Arrays compared (outputs, gradients, state), by compareWithTorch and expectTorchClose. */
  arrays: number;
  elements: number;
  /** The largest deviation per dtype, and where. */
  worst: Record<"float32" | "float64", { deviation: number; where: string }>;
}

/** "packages/nn/src/x.torch.test.ts" -> "nn"; "apps/mnist-train/test/a.ts" -> "mnist-train". */
export function packageOf(file: string | undefined): string {
  const parts = (file ?? "").split(/[\\/]/);
  const at = parts.findIndex((p) => p === "packages" || p === "apps");
  return at >= 0 && parts[at + 1] !== undefined ? parts[at + 1]! : "(unknown)";
}

/** Totals per package of the JSON lines PICO_TORCH_STATS collected (blank lines ignored). */
export function summarizeStats(lines: readonly string[]): Map<string, PackageSummary> {
  const out = new Map<string, PackageSummary & { fileSet: Set<string> }>();
  for (const text of lines) {
    if (text.trim() === "") continue;
    const line = JSON.parse(text) as StatLine;
    const name = packageOf(line.file);
    let s = out.get(name);
    if (s === undefined) {
      s = { files: 0, cases: 0, arrays: 0, elements: 0, worst: { float32: { deviation: 0, where: "" }, float64: { deviation: 0, where: "" } }, fileSet: new Set() };
      out.set(name, s);
    }
    if (line.file !== undefined) s.fileSet.add(line.file);
    if (line.kind !== "array") s.cases += 1;
    s.arrays += line.arrays;
    s.elements += line.elements;
    if (line.deviation > s.worst[line.dtype].deviation) s.worst[line.dtype] = { deviation: line.deviation, where: `${line.where} (${line.file ?? "?"})` };
  }
  const result = new Map<string, PackageSummary>();
  for (const [name, { fileSet, ...s }] of [...out].sort(([a], [b]) => a.localeCompare(b))) result.set(name, { ...s, files: fileSet.size });
  return result;
}

/** A plain-text table of summarizeStats, then the largest deviation of each dtype overall. */
export function formatSummary(summary: Map<string, PackageSummary>): string {
  const rows = [["package", "files", "cases", "arrays", "elements", "max dev float64", "max dev float32"]];
  const overall = { float64: { deviation: 0, where: "" }, float32: { deviation: 0, where: "" } };
  for (const [name, s] of summary) {
    rows.push([name, String(s.files), String(s.cases), String(s.arrays), String(s.elements), s.worst.float64.deviation.toExponential(2), s.worst.float32.deviation.toExponential(2)]);
    for (const d of ["float64", "float32"] as const) if (s.worst[d].deviation > overall[d].deviation) overall[d] = s.worst[d];
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join("  "));
  const worst = (["float64", "float32"] as const).map((d) => `largest ${d} deviation: ${overall[d].deviation.toExponential(2)} at ${overall[d].where || "-"}`);
  return [...table, ...worst].join("\n");
}
