import { compareWithTorch, describeTorch, type CompareOptions } from "@pico/torch-oracle";
import { it } from "vitest";
import type { Tensor } from "../tensor.js";

type Axes = number | number[] | undefined;
const py = (axes: Axes): string => (axes === undefined ? "" : Array.isArray(axes) ? `(${axes.join(", ")},)` : String(axes));
const dims = (axes: Axes, keep: boolean): string => (axes === undefined ? "" : `${py(axes)}${keep ? ", keepdim=True" : ""}`);

// [shape, axes, keepDims]
const REDUCTIONS: [number[], Axes, boolean][] = [
  [[7], undefined, false],
  [[3, 4], undefined, false],
  [[2, 3, 4], undefined, false],
  [[3, 4], 0, false],
  [[3, 4], 1, true],
  [[3, 4], -1, false],
  [[2, 3, 4], 1, false],
  [[2, 3, 4], [0, 2], false],
  [[2, 3, 4], [0, 2], true],
  [[2, 3, 4], [-1, 0], true],
  [[2, 3, 4, 5], [1, 3], false],
  [[2, 3, 4], [0, 1, 2], false],
  [[2, 3, 4], [0, 1, 2], true],
  [[], undefined, false],
];

const TIES: CompareOptions = { choices: [0, 1, 2] };

describeTorch("reductions vs torch", () => {
  for (const [shape, axes, keep] of REDUCTIONS) {
    const label = `x=[${shape}] axes=${JSON.stringify(axes)}${keep ? " keepDims" : ""}`;
    const keepArg = axes === undefined ? "" : dims(axes, keep);
    it(`sum ${label}`, () => compareWithTorch([shape], (a) => a.sum(axes, keep), `a.sum(${keepArg})`, { label: `sum ${label}` }));
    it(`mean ${label}`, () => compareWithTorch([shape], (a) => a.mean(axes, keep), `a.mean(${keepArg})`, { label: `mean ${label}` }));
    // Without an axis torch's max/min reduce everything; with one axis (a number) they are max(dim)[0]; with a list, amax/amin.
    const maxTorch = (fn: "max" | "min"): string =>
      axes === undefined ? `a.${fn}()` : Array.isArray(axes) ? `a.a${fn}(${dims(axes, keep)})` : `a.${fn}(${dims(axes, keep)})[0]`;
    for (const fn of ["max", "min"] as const) {
      const pico = (a: Tensor): Tensor => a[fn](axes, keep);
      it(`${fn} ${label}`, () => compareWithTorch([shape], pico, maxTorch(fn), { label: `${fn} ${label}` }));
      it(`${fn} ${label} with ties`, () => compareWithTorch([shape], pico, maxTorch(fn), { ...TIES, label: `${fn} ${label} ties` }));
    }
    if (axes !== undefined) {
      it(`logSumExp ${label}`, () =>
        compareWithTorch([shape], (a) => a.logSumExp(axes, keep), `torch.logsumexp(a, ${dims(axes, keep)})`, { low: -5, high: 5, label: `logsumexp ${label}` }));
    }
  }

  it("reductions of a strided input", async () => {
    const opts = { strided: true };
    await compareWithTorch([[2, 3, 4]], (a) => a.sum([0, 2], true), "a.sum((0, 2), keepdim=True)", { ...opts, label: "sum strided" });
    await compareWithTorch([[2, 3, 4]], (a) => a.mean(1), "a.mean(1)", { ...opts, label: "mean strided" });
    await compareWithTorch([[2, 3, 4]], (a) => a.max([1, 2]), "a.amax((1, 2))", { ...opts, label: "amax strided" });
    await compareWithTorch([[2, 3, 4]], (a) => a.min(-1, true), "a.min(-1, keepdim=True)[0]", { ...opts, label: "min strided" });
    await compareWithTorch([[2, 3, 4]], (a) => a.logSumExp(1), "torch.logsumexp(a, 1)", { ...opts, label: "logsumexp strided" });
  });

  it("max/min with NaN: NaN wins and the gradient goes where torch sends it", async () => {
    const values = [1, Number.NaN, 3, 1, 2, 2, Number.NaN, 0, Number.NaN, -1, -1, 5];
    for (const fn of ["max", "min"] as const) {
      await compareWithTorch([[3, 4]], (a) => a[fn](), `a.${fn}()`, { inputs: [{ values }], label: `${fn}() NaN` });
      await compareWithTorch([[3, 4]], (a) => a[fn](1), `a.${fn}(1)[0]`, { inputs: [{ values }], label: `${fn}(1) NaN` });
      await compareWithTorch([[3, 4]], (a) => a[fn]([0, 1]), `a.a${fn}((0, 1))`, { inputs: [{ values }], label: `a${fn}((0, 1)) NaN` });
    }
  });

  it("logSumExp with infinite lanes", () =>
    compareWithTorch([[3, 4]], (a) => a.logSumExp(1), "torch.logsumexp(a, 1)", {
      inputs: [{ values: [-Infinity, -Infinity, -Infinity, -Infinity, 1, -Infinity, 2, 3, 1000, 1000, -1000, 0] }],
    }));
});
