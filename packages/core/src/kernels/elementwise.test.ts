import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import type { NDArray } from "../dtype.js";
import { Generator } from "../random.js";
import { LAYOUTS, broadcastIndex, elements, expectClose, indices, randomShape, randomView, type Layout } from "../test-utils/index.js";
import { affine, binary, unary, type BinaryOp, type UnaryOp } from "./elementwise.js";

const unaryRef: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  relu: (x) => (x > 0 ? x : 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
};

const binaryRef: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  pow: (x, y) => Math.pow(x, y),
  maximum: (x, y) => Math.max(x, y),
  minimum: (x, y) => Math.min(x, y),
  eq: (x, y) => (x === y ? 1 : 0),
  gt: (x, y) => (x > y ? 1 : 0),
  lt: (x, y) => (x < y ? 1 : 0),
  reluGrad: (g, y) => (y <= 0 ? 0 : g),
  sigmoidGrad: (g, y) => g * y * (1 - y),
  tanhGrad: (g, y) => g * (1 - y * y),
  absGrad: (g, x) => (x > 0 ? g : x < 0 ? -g : 0),
  powBaseGrad: (x, y) => (y === 0 ? 0 : y * Math.pow(x, y - 1)),
  powExponentGrad: (x, y) => (x === 0 && y >= 0 ? 0 : Math.pow(x, y) * Math.log(x)),
};

/** Random shapes, every layout, against a reference that reads each element with `get`. */
function forLayouts(seed: number, body: (gen: Generator, layoutA: Layout, layoutB: Layout) => void): void {
  const gen = new Generator(seed);
  for (const a of LAYOUTS) for (const b of LAYOUTS) body(gen, a, b);
}

describe("relu on float32 (branch-free on the bits)", () => {
  it("gives PyTorch's v < 0 ? 0 : v bit for bit on special values (NaNs and −0 kept as they are), contiguous and strided", () => {
    const bits = new Int32Array([0x7fc00000, 0xffc00000 | 0, 0x7f800001, 0x80000000 | 0, 0, 0x7f800000, 0xff800000 | 0, 1, 0x80000001 | 0, 0x3f800000, 0xbf800000 | 0, 0x7f7fffff]);
    const values = new Float32Array(bits.buffer);
    // Word by word: a NaN's payload does not survive a trip through a JavaScript number.
    const expectedBits = Array.from(bits, (b, i) => (values[i]! < 0 ? 0 : b));
    for (const [shape, stride] of [[[12], [1]], [[3, 4], [4, 1]], [[4, 3], [1, 4]]] as const) {
      const a = ndarray(values, [...shape], [...stride]);
      const out = unary("relu", a);
      const order = shape.length === 1 ? expectedBits : [...indices(shape)].map((idx) => expectedBits[idx.reduce((at, i, d) => at + i * stride[d]!, 0)]!);
      const outBits = Array.from(new Int32Array((out.data as Float32Array).buffer, 0, 12));
      expect(outBits).toEqual(order);
    }
  });
});

describe("unary into a given array", () => {
  it("writes the same values into `into`, also when `into` is the input itself", () => {
    const gen = new Generator(5);
    for (const op of ["relu", "exp", "tanh", "neg"] as const) {
      for (const dtype of [Float32Array, Float64Array]) {
        const values = new dtype(Array.from({ length: 24 }, () => gen.normal()));
        const expected = Array.from(unary(op, ndarray(values, [4, 6])).data);
        const into = ndarray(new dtype(24), [4, 6]);
        expect(unary(op, ndarray(values, [4, 6]), into)).toBe(into);
        expect(Array.from(into.data)).toEqual(expected);
        const self = ndarray(values.slice(), [4, 6]);
        unary(op, self, self);
        expect(Array.from(self.data)).toEqual(expected);
      }
    }
  });
  it("refuses an array of another shape or dtype, or one that is not packed", () => {
    const a = ndarray(new Float32Array(6), [2, 3]);
    expect(() => unary("relu", a, ndarray(new Float32Array(6), [3, 2]))).toThrow("unary(relu): into must be a packed float32 array of shape [2, 3], but got a float32 array of shape [3, 2]");
    expect(() => unary("relu", a, ndarray(new Float64Array(6), [2, 3]))).toThrow(/but got a float64 array of shape \[2, 3\]/);
    expect(() => unary("relu", a, ndarray(new Float32Array(6), [2, 3], [1, 2]))).toThrow(/\(not packed\)/);
  });
});

describe("unary kernel against a per-element reference", () => {
  for (const op of Object.keys(unaryRef) as UnaryOp[]) {
    it(`${op} on every layout, ranks 0-4`, () => {
      const gen = new Generator(11);
      for (const layout of LAYOUTS) {
        for (let rank = 0; rank <= 4; rank++) {
          const a = randomView(gen, randomShape(gen, rank), layout);
          const out = unary(op, a);
          expect(out.shape).toEqual(a.shape);
          expect(out.offset).toBe(0);
          expectClose(Array.from(out.data), elements(a).map(unaryRef[op]), 1e-15, 1e-15);
        }
      }
    });
  }

  it("affine on every layout, in float32 too", () => {
    const gen = new Generator(12);
    for (const layout of LAYOUTS) {
      for (const dtype of ["float32", "float64"] as const) {
        const a = randomView(gen, randomShape(gen, 3), layout, dtype);
        const out = affine(a, 1.5, -0.25);
        expect(out.data).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
        expectClose(Array.from(out.data), elements(a).map((v) => Math.fround(v * 1.5 - 0.25)), 1e-6, 1e-6);
      }
    }
  });

  it("leaves the input untouched", () => {
    const gen = new Generator(13);
    const a = randomView(gen, [3, 4], "offset");
    const before = Array.from(a.data);
    unary("exp", a);
    expect(Array.from(a.data)).toEqual(before);
  });
});

describe("binary kernel against a per-element reference", () => {
  for (const op of Object.keys(binaryRef) as BinaryOp[]) {
    it(`${op}: every pair of layouts with broadcasting`, () => {
      forLayouts(21, (gen, la, lb) => {
        const shape = randomShape(gen, 1 + gen.randint(4));
        // b broadcasts: some axes set to 1, and sometimes fewer axes than a.
        const bShape = shape.slice(gen.randint(2)).map((d) => (gen.random() < 0.4 ? 1 : d));
        const [sa, sb] = gen.random() < 0.5 ? [shape, bShape] : [bShape, shape];
        checkBinary(op, randomView(gen, sa, la), randomView(gen, sb, lb));
      });
    });
  }

  it("mixed dtypes promote to float64; an explicit dtype wins", () => {
    const gen = new Generator(22);
    const a = randomView(gen, [3, 4], "permuted", "float32");
    const b = randomView(gen, [4], "stepped", "float64");
    expect(binary("add", a, b).data).toBeInstanceOf(Float64Array);
    expect(binary("gt", a, b, "gt", "float32").data).toBeInstanceOf(Float32Array);
    checkBinary("mul", a, b);
  });

  it("a broadcast mismatch names the label and both shapes", () => {
    const gen = new Generator(23);
    expect(() => binary("add", randomView(gen, [2, 3], "packed"), randomView(gen, [4], "packed"), "myOp")).toThrow(
      /myOp: shapes \[2, 3\] and \[4\] cannot be broadcast together/,
    );
  });

  it("zero-size operands give an empty result", () => {
    const gen = new Generator(24);
    expect(binary("add", randomView(gen, [0, 3], "packed"), randomView(gen, [1, 3], "packed")).shape).toEqual([0, 3]);
  });
});

function checkBinary(op: BinaryOp, a: NDArray, b: NDArray): void {
  const out = binary(op, a, b);
  const shape = out.shape;
  const expected: number[] = [];
  for (const idx of indices(shape)) {
    expected.push(binaryRef[op](a.get(...broadcastIndex(idx, a.shape, shape)), b.get(...broadcastIndex(idx, b.shape, shape))));
  }
  expectClose(Array.from(out.data), expected, 1e-15, 1e-15);
}
