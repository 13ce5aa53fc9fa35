import { describe, expect, it } from "vitest";
import { formatSummary, packageOf, summarizeStats } from "./stats-summary.js";

const line = (o: object): string => JSON.stringify(o);

describe("summarizeStats", () => {
  const lines = [
    line({ label: "a", dtype: "float64", arrays: 3, elements: 30, deviation: 1e-16, where: "a float64 out", file: "packages/core/src/ops/x.torch.test.ts" }),
    line({ label: "a", dtype: "float32", arrays: 3, elements: 30, deviation: 2e-7, where: "a float32 grad a", file: "packages/core/src/ops/x.torch.test.ts" }),
    line({ label: "b", dtype: "float32", arrays: 1, elements: 5, deviation: 4e-6, where: "b", kind: "array", file: "packages/nn/src/y.torch.test.ts" }),
    line({ label: "c", dtype: "float64", arrays: 2, elements: 8, deviation: 3e-15, where: "c out", file: "packages/core/src/ops/z.torch.test.ts" }),
    "",
  ];
  it("totals cases, arrays, elements and the largest deviation per package and dtype", () => {
    const s = summarizeStats(lines);
    expect([...s.keys()]).toEqual(["core", "nn"]);
    const core = s.get("core")!;
    expect([core.files, core.cases, core.arrays, core.elements]).toEqual([2, 3, 8, 68]);
    expect(core.worst.float64).toEqual({ deviation: 3e-15, where: "c out (packages/core/src/ops/z.torch.test.ts)" });
    expect(core.worst.float32.deviation).toBe(2e-7);
    const nn = s.get("nn")!;
    expect([nn.files, nn.cases, nn.arrays, nn.elements]).toEqual([1, 0, 1, 5]);
  });
  it("prints one row per package and the overall largest deviations", () => {
    const text = formatSummary(summarizeStats(lines)).split("\n");
    expect(text[1]!.split(/\s+/)).toEqual(["core", "2", "3", "8", "68", "3.00e-15", "2.00e-7"]);
    expect(text[2]!.split(/\s+/)).toEqual(["nn", "1", "0", "1", "5", "0.00e+0", "4.00e-6"]);
    expect(text[3]).toBe("largest float64 deviation: 3.00e-15 at c out (packages/core/src/ops/z.torch.test.ts)");
    expect(text[4]).toBe("largest float32 deviation: 4.00e-6 at b (packages/nn/src/y.torch.test.ts)");
  });
  it("names the package of a test file", () => {
    expect(packageOf("packages/optim/src/a.ts")).toBe("optim");
    expect(packageOf("apps/mnist-train/test/b.ts")).toBe("mnist-train");
    expect(packageOf(undefined)).toBe("(unknown)");
  });
});
