import { describe, expect, it } from "vitest";
import { ShapeError, tensor, type Tensor } from "../index.js";
import { broadcastIndex, checkGrad, expectClose, indices, inputs } from "../test-utils/index.js";

type Binary = (a: Tensor, b: Tensor) => Tensor;
const ops: [string, Binary, (x: number, y: number) => number, { low?: number; high?: number }][] = [
  ["add", (a, b) => a.add(b), (x, y) => x + y, {}],
  ["sub", (a, b) => a.sub(b), (x, y) => x - y, {}],
  ["mul", (a, b) => a.mul(b), (x, y) => x * y, {}],
  ["div", (a, b) => a.div(b), (x, y) => x / y, { low: 0.5, high: 2 }],
  ["pow", (a, b) => a.pow(b), (x, y) => Math.pow(x, y), { low: 0.5, high: 2 }],
  ["maximum", (a, b) => a.maximum(b), (x, y) => Math.max(x, y), {}],
];

// Pairs of shapes: equal, odd sizes, broadcasting in both directions, rank promotion, scalars.
const pairs: [number[], number[]][] = [
  [[1], [1]],
  [[7], [7]],
  [[3, 7], [3, 7]],
  [[3, 7], [7]],
  [[7], [3, 7]],
  [[3, 1], [1, 7]],
  [[1, 7], [3, 1]],
  [[3, 1, 7], [1, 5, 1]],
  [[3, 7], []],
  [[], [3, 7]],
  [[1, 1], [3, 7]],
];

describe("binary operators: gradcheck with broadcasting in both directions", () => {
  for (const [name, op, , range] of ops) {
    for (const [sa, sb] of pairs) {
      it(`${name} [${sa}] [${sb}]`, () => checkGrad([sa, sb], op, range));
    }
    it(`${name} on transposed inputs`, () => checkGrad([[7, 3], [3, 7]], (a, b) => op(a.transpose(), b.transpose().transpose()), range));
    it(`${name} with a transposed, broadcast input`, () => checkGrad([[7, 3], [7, 1]], (a, b) => op(a.transpose(), b.transpose()), range));
    it(`${name} with a number`, () => checkGrad([[3, 7]], (a) => op(a, tensor(1.5, { dtype: a.dtype })), range));
    it(`${name} of a tensor with itself`, () => checkGrad([[3, 7]], (a) => op(a, a), range));
  }
});

describe("binary operators: forward against a per-element reference", () => {
  for (const [name, op, ref, range] of ops) {
    it(`${name} [3, 1, 7] [5, 1]`, () => {
      const [a, b] = inputs([[3, 1, 7], [5, 1]], { low: range.low ?? -2, high: range.high ?? 2 });
      const out = op(a!, b!);
      expect(out.shape).toEqual([3, 5, 7]);
      const expected: number[] = [];
      for (const idx of indices([3, 5, 7])) {
        expected.push(ref(a!.data.get(...broadcastIndex(idx, [3, 1, 7], [3, 5, 7])), b!.data.get(...broadcastIndex(idx, [5, 1], [3, 5, 7]))));
      }
      expectClose(out.toTypedArray(), expected, 1e-12, 1e-12);
    });
  }

  it("numbers are accepted on the right and keep the tensor's dtype", () => {
    const x = tensor([1, 2, 4]);
    expect(x.add(1).toArray()).toEqual([2, 3, 5]);
    expect(x.sub(1).toArray()).toEqual([0, 1, 3]);
    expect(x.mul(2).toArray()).toEqual([2, 4, 8]);
    expect(x.div(2).toArray()).toEqual([0.5, 1, 2]);
    expect(x.pow(2).toArray()).toEqual([1, 4, 16]);
    expect(x.maximum(2).toArray()).toEqual([2, 2, 4]);
    expect(x.add(1).dtype).toBe("float32");
  });

  it("float32 and float64 operands promote to float64", () => {
    const y = tensor([1, 2]).add(tensor([1, 2], { dtype: "float64" }));
    expect(y.dtype).toBe("float64");
  });
});

describe("binary operators: gradients at special points", () => {
  it("maximum and minimum split the gradient of a tie evenly, as torch 1.13", () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([3, 2, 1], { requiresGrad: true });
    a.maximum(b).sum().backward();
    expect(a.grad!.toArray()).toEqual([0, 0.5, 1]);
    expect(b.grad!.toArray()).toEqual([1, 0.5, 0]);
    a.zeroGrad();
    b.zeroGrad();
    a.minimum(b).sum().backward();
    expect(a.grad!.toArray()).toEqual([1, 0.5, 0]);
    expect(b.grad!.toArray()).toEqual([0, 0.5, 1]);
  });

  it("pow: x^2 at x = 0 has gradient 0, and x^0 has gradient 0 everywhere", () => {
    const x = tensor([0, 1, -2], { requiresGrad: true });
    x.pow(2).sum().backward();
    expect(x.grad!.toArray()).toEqual([0, 2, -4]);
    x.zeroGrad();
    x.pow(0).sum().backward();
    expect(x.grad!.toArray()).toEqual([0, 0, 0]);
  });

  it("pow: the exponent's gradient at base 0 is 0, not NaN (as in PyTorch)", () => {
    const x = tensor([0, 2]);
    const e = tensor([2, 3], { requiresGrad: true });
    x.pow(e).sum().backward();
    expect(e.grad!.toArray()).toEqual([0, Math.fround(8 * Math.log(2))]);
  });

  it("pow: negative base with an integer exponent", () => checkGrad([[3]], (a) => a.pow(3), { low: -2, high: -0.5 }));
});

describe("binary operators: errors", () => {
  it("a broadcast mismatch names the operator and both shapes", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    const b = tensor([1, 2]);
    for (const [name, op] of ops) {
      let err: unknown;
      try {
        op(a, b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ShapeError);
      expect((err as Error).message).toContain(name);
      expect((err as Error).message).toContain("[2, 3]");
      expect((err as Error).message).toContain("[2]");
    }
  });

  it("a non-number, non-Tensor operand is an ArgumentError", () => {
    expect(() => tensor([1]).add("2" as unknown as number)).toThrow(/Tensor or a number/);
  });
});
