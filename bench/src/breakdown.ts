import type { BreakdownResult, SiteTiming } from "./breakdown-worker.js";

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

interface OpTotal {
  op: string;
  calls: number;
  forwardMs: number;
  backwardMs: number;
}

export function totalsByOp(sites: readonly SiteTiming[]): OpTotal[] {
  const by = new Map<string, OpTotal>();
  for (const s of sites) {
    const t = by.get(s.op) ?? { op: s.op, calls: 0, forwardMs: 0, backwardMs: 0 };
    t.calls += 1;
    t.forwardMs += s.forwardMs;
    t.backwardMs += s.backwardMs;
    by.set(s.op, t);
  }
  return [...by.values()].sort((a, b) => b.forwardMs + b.backwardMs - (a.forwardMs + a.backwardMs));
}

function siteRows(sites: readonly SiteTiming[], passMs: number): string[][] {
  return sites.map((s) => [
    String(s.index),
    `${s.op} ${s.shape}`,
    fixed(s.forwardMs, 2),
    fixed(s.backwardMs, 2),
    fixed(s.forwardMs + s.backwardMs, 2),
    `${fixed((100 * (s.forwardMs + s.backwardMs)) / passMs, 1)}%`,
  ]);
}

function opRows(sites: readonly SiteTiming[], passMs: number, outside: BreakdownResult["outside"] | number): string[][] {
  const rows = totalsByOp(sites).map((t) => [
    String(t.calls),
    t.op,
    fixed(t.forwardMs, 2),
    fixed(t.backwardMs, 2),
    fixed(t.forwardMs + t.backwardMs, 2),
    `${fixed((100 * (t.forwardMs + t.backwardMs)) / passMs, 1)}%`,
  ]);
  const share = (ms: number): string => `${fixed((100 * ms) / passMs, 1)}%`;
  if (typeof outside === "number") {
    rows.push(["", "outside operators: module glue, input and output copies", fixed(outside, 2), "", fixed(outside, 2), share(outside)]);
    return rows;
  }
  rows.push(
    ["", "outside operators, forward: module glue, inputs, loss", fixed(outside.forwardMs, 2), "", fixed(outside.forwardMs, 2), share(outside.forwardMs)],
    ["", "outside operators, backward: engine, gradient sums, .grad", "", fixed(outside.backwardMs, 2), fixed(outside.backwardMs, 2), share(outside.backwardMs)],
    ["", "outside operators, zeroGrad + optimizer step", "", "", fixed(outside.optimizerMs, 2), share(outside.optimizerMs)],
    ["", "outside operators, all (median of each step's sum)", "", "", fixed(outside.totalMs, 2), share(outside.totalMs)],
  );
  return rows;
}

/** The per-operator tables of a breakdown run: every call site of a training step, totals by operator, and inference. */
export function formatBreakdown(r: BreakdownResult): string {
  const { step } = r;
  const lines = [
    `Pico ${r.network} network, ${r.threads} thread${r.threads > 1 ? "s" : ""}: training step ${fixed(step.totalMs, 1)} ms ` +
      `(forward with loss ${fixed(step.forwardMs, 1)}, backward ${fixed(step.backwardMs, 1)}, optimizer ${fixed(step.optimizerMs, 1)}), medians of ${r.trainSteps} steps`,
    "",
    table(["#", "operator and output shape", "fwd ms", "bwd ms", "ms", "of step"], siteRows(r.trainSites, step.totalMs)),
    "",
    table(["calls", "operator (training step)", "fwd ms", "bwd ms", "ms", "of step"], opRows(r.trainSites, step.totalMs, r.outside)),
    `garbage collection in a step: ${fixed(r.gc.ms, 2)} ms in ${fixed(r.gc.count, 1)} pauses (medians; inside whichever operator or glue it interrupted)`,
    "",
    `inference at batch ${r.inferCount}: ${fixed(r.inferMs, 1)} ms per call (median of ${r.inferCalls})`,
    "",
    table(["#", "operator and output shape", "fwd ms", "", "ms", "of call"], siteRows(r.inferSites, r.inferMs).map((row) => [row[0]!, row[1]!, row[2]!, "", row[4]!, row[5]!])),
    "",
    table(["calls", "operator (inference)", "fwd ms", "", "ms", "of call"], opRows(r.inferSites, r.inferMs, r.inferOutsideMs).map((row) => [row[0]!, row[1]!, row[2]!, "", row[4]!, row[5]!])),
  ];
  return lines.join("\n");
}
