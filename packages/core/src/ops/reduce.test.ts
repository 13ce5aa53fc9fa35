import { describe, expect, it } from "vitest";
import { ArgumentError, ShapeError, tensor } from "../index.js";
import { checkGrad, expectClose, indices, inputs } from "../test-utils/index.js";

const axesCases: [string, number | number[] | undefined][] = [
  ["all", undefined],
  ["axis 0", 0],
  ["axis 1", 1],
  ["axis -1", -1],
  ["axes [0, 2]", [0, 2]],
  ["axes [2, 0, 1]", [2, 0, 1]],
  ["no axes []", []],
];

describe("reductions: gradcheck over all, one and several axes, with and without keepDims", () => {
  for (const [label, axes] of axesCases) {
    for (const keep of [false, true]) {
      const k = keep ? " keepDims" : "";
      it(`sum ${label}${k} [3, 1, 7]`, () => checkGrad([[3, 1, 7]], (x) => x.sum(axes, keep)));
      it(`mean ${label}${k} [3, 1, 7]`, () => checkGrad([[3, 1, 7]], (x) => x.mean(axes, keep)));
      it(`max ${label}${k} [3, 1, 7]`, () => checkGrad([[3, 1, 7]], (x) => x.max(axes, keep)));
    }
  }
  it("sum of a transposed input", () => checkGrad([[7, 3]], (x) => x.transpose().sum(1)));
  it("max of a permuted input", () => checkGrad([[3, 5, 7]], (x) => x.permute(2, 0, 1).max([0, 2], true)));
  it("mean of a slice", () => checkGrad([[7, 3]], (x) => x.slice(0, 1, 6).mean(0)));
  it("sum of a 0-d tensor", () => checkGrad([[]], (x) => x.sum()));
  it("logSumExp last axis", () => checkGrad([[3, 7]], (x) => x.logSumExp()));
  it("logSumExp axis 0 keepDims", () => checkGrad([[3, 7]], (x) => x.logSumExp(0, true)));
  it("logSumExp over several axes", () => checkGrad([[3, 1, 7]], (x) => x.logSumExp([0, 2])));
  it("logSumExp over all axes keepDims", () => checkGrad([[3, 7]], (x) => x.logSumExp([0, 1], true)));
  it("logSumExp of a transposed input", () => checkGrad([[3, 1, 7]], (x) => x.transpose(0, 2).logSumExp(1)));
});

describe("reductions: values", () => {
  it("sum, mean and max against a per-element reference", () => {
    const [x] = inputs([[3, 4, 5]]);
    const xt = x!.permute(1, 2, 0);
    const ref = (op: "sum" | "max", keep: (i: number[]) => number[]): Map<string, number> => {
      const m = new Map<string, number>();
      for (const idx of indices(xt.shape)) {
        const key = keep(idx).join(",");
        const v = xt.data.get(...idx);
        const prev = m.get(key);
        m.set(key, prev === undefined ? v : op === "sum" ? prev + v : Math.max(prev, v));
      }
      return m;
    };
    expectClose(xt.sum([0, 2]).toTypedArray(), [...ref("sum", (i) => [i[1]!]).values()], 1e-12);
    expectClose(xt.max(1).toTypedArray(), [...ref("max", (i) => [i[0]!, i[2]!]).values()], 0);
    expectClose(xt.mean().toTypedArray(), [[...ref("sum", () => []).values()][0]! / 60], 1e-12);
  });

  it("output shapes follow keepDims", () => {
    const x = tensor([[[1, 2, 3], [4, 5, 6]]]);
    expect(x.sum().shape).toEqual([]);
    expect(x.sum(undefined, true).shape).toEqual([1, 1, 1]);
    expect(x.sum(1).shape).toEqual([1, 3]);
    expect(x.max([0, 2], true).shape).toEqual([1, 2, 1]);
    expect(x.mean(-1).toArray()).toEqual([[2, 5]]);
    expect(x.max(2).toArray()).toEqual([[3, 6]]);
  });

  it("a 0-d tensor reduces over axis 0 or -1, as in PyTorch", () => {
    expect(tensor(3).sum(0).item()).toBe(3);
    expect(tensor(3).mean(-1).item()).toBe(3);
    expect(tensor(3).max(0, true).shape).toEqual([]);
    expect(tensor(3).logSumExp().item()).toBe(3);
    expect(() => tensor(3).sum(1)).toThrow(/sum: axis must be an integer in \[-1, 0\], but got 1/);
  });

  it("max sends the gradient of ties to the first maximum only", () => {
    const x = tensor([[1, 5, 5], [2, 2, 0]], { requiresGrad: true });
    x.max(1).sum().backward();
    expect(x.grad!.toArray()).toEqual([[0, 1, 0], [1, 0, 0]]);
  });

  it("logSumExp is stable for logits of 1000 and -1000", () => {
    const x = tensor([[1000, 1000], [-1000, -1000]]);
    expectClose(x.logSumExp(1).toTypedArray(), [1000 + Math.log(2), -1000 + Math.log(2)], 1e-3);
  });

  it("logSumExp of a lane of -Infinity is -Infinity, and +Infinity stays +Infinity, as in PyTorch", () => {
    const x = tensor([[-Infinity, -Infinity], [Infinity, 0], [0, 0]]);
    expect(x.logSumExp(1).toArray()).toEqual([-Infinity, Infinity, Math.fround(Math.log(2))]);
  });

  it("logSumExp values and shapes", () => {
    const [x] = inputs([[2, 3, 4]]);
    const rows = x!.toTypedArray();
    expectClose(x!.logSumExp([0, 1, 2]).toTypedArray(), [Math.log(Array.from(rows).reduce((s, v) => s + Math.exp(v), 0))], 1e-12);
    expect(x!.logSumExp([0, 2]).shape).toEqual([3]);
    expect(x!.logSumExp([0, 2], true).shape).toEqual([1, 3, 1]);
    expect(x!.logSumExp().shape).toEqual([2, 3]);
  });
});

describe("reductions: errors", () => {
  it("an axis out of range names the operator and the range", () => {
    expect(() => tensor([[1, 2]]).sum(2)).toThrow(ArgumentError);
    expect(() => tensor([[1, 2]]).sum(2)).toThrow(/sum: axis must be an integer in \[-2, 1\], but got 2/);
    expect(() => tensor([[1, 2]]).max(-3)).toThrow(/max: axis/);
    expect(() => tensor([[1, 2]]).mean(0.5)).toThrow(/mean: axis/);
  });
  it("a repeated axis is an error", () => {
    expect(() => tensor([[1, 2]]).sum([1, -1])).toThrow(/sum: axes must not repeat/);
  });
  it("max over an empty axis is an error", () => {
    expect(() => tensor([[], []]).max(1)).toThrow(ShapeError);
  });
});
