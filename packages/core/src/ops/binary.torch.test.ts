import { compareWithTorch, describeTorch, type CompareOptions } from "@pico/torch-oracle";
import { it } from "vitest";
import type { Tensor } from "../tensor.js";

type Op = [name: string, pico: (a: Tensor, b: Tensor) => Tensor, torch: string, options?: CompareOptions];

const POSITIVE_B: CompareOptions = { inputs: [undefined, { low: 0.5, high: 2 }] };
const OPS: Op[] = [
  ["add", (a, b) => a.add(b), "a + b"],
  ["sub", (a, b) => a.sub(b), "a - b"],
  ["mul", (a, b) => a.mul(b), "a * b"],
  ["div", (a, b) => a.div(b), "a / b", POSITIVE_B],
  ["div by negative", (a, b) => a.div(b.neg()), "a / -b", POSITIVE_B],
  ["pow", (a, b) => a.pow(b), "a.pow(b)", { inputs: [{ low: 0.2, high: 2 }, { low: -2, high: 2 }] }],
  ["maximum", (a, b) => a.maximum(b), "torch.maximum(a, b)"],
  ["minimum", (a, b) => a.minimum(b), "torch.minimum(a, b)"],
];

// Broadcasting both ways: equal shapes, one side smaller, both sides expanded, 0-d tensors.
const SHAPES: [number[], number[]][] = [
  [[3, 4], [3, 4]],
  [[3, 4], [4]],
  [[4], [3, 4]],
  [[3, 1], [1, 4]],
  [[2, 1, 4], [3, 1]],
  [[1, 3, 1], [2, 1, 5]],
  [[], [3]],
  [[3, 2], []],
  [[], []],
];

const TIES: CompareOptions = { choices: [-1, 0, 0.5, 1] };

describeTorch("binary operators vs torch", () => {
  for (const [name, pico, torch, options] of OPS) {
    for (const [sa, sb] of SHAPES) {
      it(`${name} a=[${sa}] b=[${sb}]`, () => compareWithTorch([sa, sb], pico, torch, { ...options, label: `${name} [${sa}] [${sb}]` }));
    }
    it(`${name} strided a=[2,3,4] b=[3,4]`, () => compareWithTorch([[2, 3, 4], [3, 4]], pico, torch, { ...options, strided: true, label: `${name} strided` }));
  }

  it.each([
    ["add", (a: Tensor) => a.add(2.5), "a + 2.5"],
    ["sub", (a: Tensor) => a.sub(-1.25), "a - (-1.25)"],
    ["mul", (a: Tensor) => a.mul(-3), "a * -3"],
    ["div", (a: Tensor) => a.div(0.3), "a / 0.3"],
    ["pow 2", (a: Tensor) => a.pow(2), "a.pow(2)"],
    ["pow 3", (a: Tensor) => a.pow(3), "a.pow(3)"],
    ["pow -1", (a: Tensor) => a.pow(-1), "a.pow(-1)"],
    ["pow 0.5", (a: Tensor) => a.pow(0.5), "a.pow(0.5)"],
    ["pow 0", (a: Tensor) => a.pow(0), "a.pow(0)"],
    ["maximum 0", (a: Tensor) => a.maximum(0), "torch.maximum(a, torch.zeros((), dtype=a.dtype))"],
    ["minimum 0", (a: Tensor) => a.minimum(0), "torch.minimum(a, torch.zeros((), dtype=a.dtype))"],
  ] as const)("%s with a number", (name, pico, torch) => compareWithTorch([[3, 4]], pico, torch, { avoid: [0], label: `${name} number` }));

  // pow: negative bases (integer exponents are defined; a fractional exponent gives NaN in both), zero bases.
  it("pow negative bases, integer exponents (tensor exponent)", () =>
    compareWithTorch([[4, 5], [4, 5]], (a, b) => a.pow(b), "a.pow(b)", { inputs: [{ low: -2, high: -0.2 }, { choices: [-3, -2, -1, 0, 1, 2, 3] }] }));
  it("pow negative bases, fractional exponents", () =>
    compareWithTorch([[4, 5], [4, 5]], (a, b) => a.pow(b), "a.pow(b)", { inputs: [{ low: -2, high: -0.2 }, { low: -2, high: 2 }] }));
  it.each([2, 3, -1, -2, 0.5, 1.5, 0])("pow negative bases, number exponent %d", (e) =>
    compareWithTorch([[3, 4]], (a) => a.pow(e), `a.pow(${e})`, { low: -2, high: 2, avoid: [0], label: `pow(${e}) negative bases` }));
  it("pow special bases and exponents", () =>
    compareWithTorch([[16], [16]], (a, b) => a.pow(b), "a.pow(b)", {
      inputs: [
        { values: [0, 0, 0, 0, -0, 1, 1, -1, -1, Number.NaN, 2, -2, 1, -1, -1, 1] },
        { values: [0, 1, 2, -1, 3, Number.NaN, 0, 0.5, 2, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -3] },
      ],
    }));

  // Ties: torch splits maximum/minimum's gradient evenly between equal inputs; NaN passes the full gradient to both.
  it.each([
    ["maximum", (a: Tensor, b: Tensor) => a.maximum(b), "torch.maximum(a, b)"],
    ["minimum", (a: Tensor, b: Tensor) => a.minimum(b), "torch.minimum(a, b)"],
  ] as const)("%s ties", (name, pico, torch) => compareWithTorch([[4, 5], [4, 5]], pico, torch, { ...TIES, label: `${name} ties` }));
  it.each([
    ["maximum", (a: Tensor, b: Tensor) => a.maximum(b), "torch.maximum(a, b)"],
    ["minimum", (a: Tensor, b: Tensor) => a.minimum(b), "torch.minimum(a, b)"],
  ] as const)("%s ties, broadcast", (name, pico, torch) => compareWithTorch([[4, 5], [5]], pico, torch, { ...TIES, label: `${name} ties broadcast` }));
  it.each([
    ["maximum", (a: Tensor, b: Tensor) => a.maximum(b), "torch.maximum(a, b)"],
    ["minimum", (a: Tensor, b: Tensor) => a.minimum(b), "torch.minimum(a, b)"],
  ] as const)("%s with NaN", (name, pico, torch) =>
    compareWithTorch([[5], [5]], pico, torch, { inputs: [{ values: [1, Number.NaN, Number.NaN, 0, 2] }, { values: [Number.NaN, 1, Number.NaN, 0, -2] }], label: `${name} NaN` }));

  // clamp: gradient 1 inside the bounds, bounds included, 0 outside and at NaN; min > max gives max everywhere
  // (NaN staying NaN) and no gradient, min = max gives the bound with the gradient where x equals it.
  it.each([
    [-0.5, 0.5],
    [-0.5, undefined],
    [undefined, 0.5],
    [0.5, -0.5],
    [0.5, 0.5],
  ] as const)("clamp(%s, %s) with values at the bounds", (min, max) =>
    compareWithTorch([[4, 5]], (a) => a.clamp(min, max), `torch.clamp(a, min=${min ?? "None"}, max=${max ?? "None"})`, {
      choices: [-1, -0.5, -0.25, 0, 0.5, 0.75, Number.NaN],
      label: `clamp(${min}, ${max})`,
    }));
  it("clamp random", () => compareWithTorch([[3, 4]], (a) => a.clamp(-1, 1), "torch.clamp(a, -1, 1)", { avoid: [-1, 1] }));

  it("mixed dtypes promote to float64", () =>
    compareWithTorch([[3, 4], [4]], (a, b) => a.to("float32").mul(b), "a.float() * b", { dtypes: ["float64"] }));
});
