import { describe, expect, it } from "vitest";
import { Generator, ShapeError, Tensor, tensor } from "../index.js";
import { LAYOUTS, checkGrad, expectClose, inputs, randomView } from "../test-utils/index.js";

/** Plain triple loop over the last two axes of packed 2-D operands. */
function naive(a: Tensor, b: Tensor): number[] {
  const [m, k] = a.shape as [number, number];
  const n = b.shape[1]!;
  const out: number[] = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a.data.get(i, p) * b.data.get(p, j);
      out.push(s);
    }
  return out;
}

describe("matmul: gradcheck", () => {
  const cases: [number[], number[]][] = [
    [[1, 1], [1, 1]],
    [[3, 7], [7, 1]],
    [[1, 7], [7, 3]],
    [[7, 3], [3, 7]],
    [[2, 3, 7], [2, 7, 5]],
    [[2, 3, 7], [7, 5]],
    [[3, 7], [2, 7, 5]],
    [[2, 1, 3, 4], [5, 4, 3]],
    [[7], [7, 3]],
    [[3, 7], [7]],
    [[7], [7]],
    [[7], [2, 7, 3]],
    [[2, 3, 7], [7]],
  ];
  for (const [sa, sb] of cases) it(`[${sa}] @ [${sb}]`, () => checkGrad([sa, sb], (a, b) => a.matmul(b)));

  it("transposed operands (non-contiguous views, both orientations)", () => {
    checkGrad([[7, 3], [5, 7]], (a, b) => a.transpose().matmul(b.transpose()));
  });
  it("batched operands permuted so that no axis has unit stride", () => {
    checkGrad([[3, 2, 4], [4, 2, 5]], (a, b) => a.permute(1, 0, 2).matmul(b.permute(1, 0, 2)));
    checkGrad([[4, 3, 2], [5, 2, 4]], (a, b) => a.permute(2, 1, 0).matmul(b.permute(1, 2, 0)));
  });
  it("sliced operands (offset views)", () => {
    checkGrad([[5, 6], [6, 7]], (a, b) => a.slice(0, 1, 4).slice(1, 2, 5).matmul(b.slice(0, 3).slice(1, 1, 6)));
  });
  it("a matrix times itself", () => checkGrad([[3, 3]], (a) => a.matmul(a)));
  it("a matrix times its own transpose", () => checkGrad([[3, 5]], (a) => a.matmul(a.transpose())));
});

describe("matmul: values and shapes", () => {
  it("2-D against a triple loop (large enough to cross the cache blocks)", () => {
    const [a, b] = inputs([[9, 300], [300, 530]], { dtype: "float64" });
    expectClose(a!.matmul(b!).toTypedArray(), naive(a!, b!), 1e-9, 1e-9);
  });
  it("transposed views against a triple loop", () => {
    const [a, b] = inputs([[6, 5], [4, 6]]);
    expectClose(a!.transpose().matmul(b!.transpose()).toTypedArray(), naive(a!.transpose(), b!.transpose()), 1e-12);
  });
  it("shapes with broadcast batches and 1-D operands", () => {
    expect(tensor([1, 2, 3]).matmul(tensor([4, 5, 6])).shape).toEqual([]);
    expect(tensor([1, 2, 3]).matmul(tensor([4, 5, 6])).item()).toBe(32);
    expect(Tensor3([2, 1, 3, 4]).matmul(Tensor3([5, 4, 6])).shape).toEqual([2, 5, 3, 6]);
    expect(Tensor3([4]).matmul(Tensor3([2, 4, 6])).shape).toEqual([2, 6]);
    expect(Tensor3([2, 3, 4]).matmul(Tensor3([4])).shape).toEqual([2, 3]);
  });
  it("operands in every memory layout (permuted, offset, stepped, reversed, stride 0) against a triple loop", () => {
    const gen = new Generator(61);
    for (const la of LAYOUTS) {
      for (const lb of LAYOUTS) {
        const a = new Tensor(randomView(gen, [5, 6], la));
        const b = new Tensor(randomView(gen, [6, 3], lb));
        expectClose(a.matmul(b).toTypedArray(), naive(a, b), 1e-12);
      }
    }
  });
  it("float32 @ float64 is refused, as torch refuses it; converted first, the product is the float64 one", () => {
    const [a64, b64] = inputs([[4, 9], [9, 5]]);
    const a = a64!.to("float32");
    expect(() => a.matmul(b64!)).toThrow("matmul: other must have the input's dtype, float32");
    const y = a.to("float64").matmul(b64!);
    expect(y.dtype).toBe("float64");
    expectClose(y.toTypedArray(), naive(a.to("float64"), b64!), 1e-12);
  });
  it("float32 matmul agrees with float64", () => {
    const [a, b] = inputs([[5, 33], [33, 7]]);
    expectClose(a!.to("float32").matmul(b!.to("float32")).toTypedArray(), a!.matmul(b!).toTypedArray(), 1e-4, 1e-4);
  });
});

describe("matmul: errors", () => {
  it("an inner-dimension mismatch names matmul and both shapes", () => {
    expect(() => Tensor3([2, 3]).matmul(Tensor3([4, 5]))).toThrow(ShapeError);
    expect(() => Tensor3([2, 3]).matmul(Tensor3([4, 5]))).toThrow(/matmul: .*\[2, 3\] and \[4, 5\]/);
    expect(() => Tensor3([3]).matmul(Tensor3([4]))).toThrow(/matmul: .*\[3\] and \[4\]/);
    expect(() => Tensor3([2, 3]).matmul(Tensor3([4]))).toThrow(/matmul: .*\[2, 3\] and \[4\]/);
  });
  it("batch axes that do not broadcast name matmul and both shapes", () => {
    expect(() => Tensor3([2, 3, 4]).matmul(Tensor3([3, 4, 5]))).toThrow(/matmul: .*\[2, 3, 4\] and \[3, 4, 5\]/);
  });
  it("a 0-d operand is an error", () => {
    expect(() => tensor(2).matmul(Tensor3([2]))).toThrow(/matmul: both operands need at least 1 dimension/);
  });
});

function Tensor3(shape: number[]): Tensor {
  return inputs([shape])[0]!;
}
