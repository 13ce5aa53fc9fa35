import { describe, expect, it } from "vitest";
import { Tensor } from "./index.js";
import { checkGrad, inputs } from "./test-utils/index.js";

// Every differentiable operator on leaves that are non-contiguous views (axes reversed in memory,
// at an offset inside a larger buffer), so kernels and backward passes see real strides.
const strided = { strided: true } as const;

describe("operators on strided leaf tensors", () => {
  it("the helper really makes strided, offset leaves", () => {
    const [x] = inputs([[3, 7]], strided);
    expect(x!.data.stride).toEqual([1, 4]);
    expect(x!.data.offset).toBeGreaterThan(0);
  });

  const unary: [string, (x: Tensor) => Tensor, object][] = [
    ["neg", (x) => x.neg(), {}],
    ["exp", (x) => x.exp(), {}],
    ["log", (x) => x.log(), { low: 0.2 }],
    ["sqrt", (x) => x.sqrt(), { low: 0.2 }],
    ["abs", (x) => x.abs(), { avoid: [0] }],
    ["relu", (x) => x.relu(), { avoid: [0] }],
    ["sigmoid", (x) => x.sigmoid(), {}],
    ["tanh", (x) => x.tanh(), {}],
    ["sum(1)", (x) => x.sum(1), {}],
    ["mean([0, 2])", (x) => x.mean([0, 2], true), {}],
    ["max(-1)", (x) => x.max(-1), {}],
    ["logSumExp(0)", (x) => x.logSumExp(0), {}],
    ["softmax(1)", (x) => x.softmax(1), {}],
    ["logSoftmax(2)", (x) => x.logSoftmax(2), {}],
    ["reshape", (x) => x.reshape(7, -1), {}],
    ["flatten", (x) => x.flatten(), {}],
    ["permute", (x) => x.permute(1, 2, 0), {}],
    ["slice", (x) => x.slice(2, 1, 3), {}],
    ["pad", (x) => x.pad([1, 2, 0, 1]), {}],
    ["clone", (x) => x.clone(), {}],
    ["min([0, 1])", (x) => x.min([0, 1]), {}],
    ["clamp", (x) => x.clamp(-1, 1), { avoid: [-1, 1] }],
    ["expand", (x) => x.unsqueeze(1).expand(3, 2, 7, 3), {}],
    ["cat with itself", (x) => Tensor.cat([x, x.exp()], 1), {}],
  ];
  for (const [name, op, range] of unary) it(`${name} [3, 7, 3]`, () => checkGrad([[3, 7, 3]], op, { ...strided, ...range }));

  const binary: [string, (a: Tensor, b: Tensor) => Tensor, object][] = [
    ["add", (a, b) => a.add(b), {}],
    ["sub", (a, b) => a.sub(b), {}],
    ["mul", (a, b) => a.mul(b), {}],
    ["div", (a, b) => a.div(b), { low: 0.5 }],
    ["pow", (a, b) => a.pow(b), { low: 0.5 }],
    ["maximum", (a, b) => a.maximum(b), {}],
    ["minimum", (a, b) => a.minimum(b), {}],
  ];
  for (const [name, op, range] of binary) {
    it(`${name} [3, 7] [7]`, () => checkGrad([[3, 7], [7]], op, { ...strided, ...range }));
    it(`${name} [3, 1] [1, 7]`, () => checkGrad([[3, 1], [1, 7]], op, { ...strided, ...range }));
  }

  it("matmul 2-D", () => checkGrad([[3, 7], [7, 5]], (a, b) => a.matmul(b), strided));
  it("matmul batched with a broadcast batch", () => checkGrad([[2, 3, 7], [7, 5]], (a, b) => a.matmul(b), strided));
  it("matmul 1-D", () => checkGrad([[7], [7, 5]], (a, b) => a.matmul(b), strided));
});

describe("gradients that arrive as broadcast (stride-0) views", () => {
  it("matmul followed by a sum over rows or columns", () => {
    checkGrad([[3, 7], [7, 5]], (a, b) => a.matmul(b).sum(1));
    checkGrad([[3, 7], [7, 5]], (a, b) => a.matmul(b).sum(0));
    checkGrad([[2, 3, 7], [7, 5]], (a, b) => a.matmul(b).sum([0, 2]));
  });
  it("softmax, max and pad after a sum's expansion", () => {
    checkGrad([[3, 7]], (x) => x.sum(0, true).add(x).softmax(0).sum(1));
    checkGrad([[3, 7]], (x) => x.mul(x.mean(1, true)).max(1).sum());
    checkGrad([[3, 7]], (x) => x.pad([1, 1]).sum(0));
  });
});
