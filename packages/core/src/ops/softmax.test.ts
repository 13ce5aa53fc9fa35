import { describe, expect, it } from "vitest";
import { tensor } from "../index.js";
import { checkGrad, expectClose, inputs } from "../test-utils/index.js";

describe("softmax and logSoftmax: gradcheck on several axes", () => {
  for (const axis of [-1, 0, 1, 2]) {
    it(`logSoftmax axis ${axis} [3, 1, 7]`, () => checkGrad([[3, 1, 7]], (x) => x.logSoftmax(axis)));
    it(`softmax axis ${axis} [3, 1, 7]`, () => checkGrad([[3, 1, 7]], (x) => x.softmax(axis)));
  }
  it("logSoftmax of a transposed input", () => checkGrad([[7, 3]], (x) => x.transpose().logSoftmax(1)));
  it("softmax of a slice", () => checkGrad([[3, 9]], (x) => x.slice(1, 1, 8).softmax(1)));
  it("softmax [1]", () => checkGrad([[1]], (x) => x.softmax()));
  it("logSoftmax composed with a weighted sum (like a loss)", () =>
    checkGrad([[3, 7], [3, 7]], (x, w) => x.logSoftmax().mul(w).sum()));
});

describe("softmax and logSoftmax: values", () => {
  it("agree with the textbook formula", () => {
    const [x] = inputs([[3, 5]]);
    const rows = x!.toArray() as number[][];
    const expected = rows.flatMap((r) => {
      const z = r.reduce((s, v) => s + Math.exp(v), 0);
      return r.map((v) => Math.exp(v) / z);
    });
    expectClose(x!.softmax().toTypedArray(), expected, 1e-12);
    expectClose(x!.logSoftmax().toTypedArray(), expected.map(Math.log), 1e-12);
  });

  it("a 0-d tensor: softmax 1, logSoftmax 0", () => {
    expect(tensor(5).softmax().item()).toBe(1);
    expect(tensor(5).logSoftmax(0).item()).toBe(0);
  });

  for (const big of [1000, -1000]) {
    it(`logits of ${big} give no NaN or Infinity`, () => {
      for (const dtype of ["float32", "float64"] as const) {
        const x = tensor([[big, big, big - 1], [0, big, -big]], { dtype, requiresGrad: true });
        const ls = x.logSoftmax();
        const sm = x.softmax();
        for (const v of [...ls.toTypedArray(), ...sm.toTypedArray()]) expect(Number.isFinite(v)).toBe(true);
        expect(ls.toArray()).toEqual(x.logSoftmax(1).toArray());
        expectClose(sm.sum(1).toTypedArray(), [1, 1], 1e-6);
        ls.mul(tensor([[1, 2, 3], [4, 5, 6]], { dtype })).sum().backward();
        for (const v of x.grad!.toTypedArray()) expect(Number.isFinite(v)).toBe(true);
      }
    });
  }
});
