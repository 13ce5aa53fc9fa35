import { describe, expect, it } from "vitest";
import { Tensor, tensor } from "../index.js";
import { checkGrad, expectClose, inputs } from "../test-utils/index.js";

const shapes = [[1], [3], [7], [3, 7], [1, 3, 7], []] as const;

describe("unary operators: gradcheck on odd shapes", () => {
  for (const shape of shapes) {
    const s = `[${shape.join(", ")}]`;
    it(`neg ${s}`, () => checkGrad([shape], (x) => x.neg()));
    it(`exp ${s}`, () => checkGrad([shape], (x) => x.exp()));
    it(`log ${s}`, () => checkGrad([shape], (x) => x.log(), { low: 0.2, high: 3 }));
    it(`sqrt ${s}`, () => checkGrad([shape], (x) => x.sqrt(), { low: 0.2, high: 3 }));
    it(`abs ${s}`, () => checkGrad([shape], (x) => x.abs(), { avoid: [0] }));
    it(`relu ${s}`, () => checkGrad([shape], (x) => x.relu(), { avoid: [0] }));
    it(`sigmoid ${s}`, () => checkGrad([shape], (x) => x.sigmoid(), { low: -6, high: 6 }));
    it(`tanh ${s}`, () => checkGrad([shape], (x) => x.tanh()));
    it(`square ${s}`, () => checkGrad([shape], (x) => x.square()));
  }
});

describe("unary operators on transposed and sliced (non-contiguous) inputs", () => {
  it("exp of a transpose", () => checkGrad([[3, 7]], (x) => x.transpose().exp()));
  it("tanh of a permuted 3-D view", () => checkGrad([[3, 1, 7]], (x) => x.permute(2, 0, 1).tanh()));
  it("relu of a slice", () => checkGrad([[7, 3]], (x) => x.slice(0, 2, 5).relu(), { avoid: [0] }));
  it("sqrt of a transposed slice", () => checkGrad([[7, 3]], (x) => x.slice(0, 1, 6).transpose().sqrt(), { low: 0.2 }));
});

describe("unary operators: forward against Math", () => {
  const cases: [string, (t: Tensor) => Tensor, (v: number) => number][] = [
    ["neg", (t) => t.neg(), (v) => -v],
    ["exp", (t) => t.exp(), Math.exp],
    ["log", (t) => t.log(), Math.log],
    ["sqrt", (t) => t.sqrt(), Math.sqrt],
    ["abs", (t) => t.abs(), Math.abs],
    ["relu", (t) => t.relu(), (v) => Math.max(v, 0)],
    ["sigmoid", (t) => t.sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
    ["tanh", (t) => t.tanh(), Math.tanh],
  ];
  for (const [name, op, ref] of cases) {
    it(name, () => {
      const [x] = inputs([[3, 7]], { low: name === "log" || name === "sqrt" ? 0.1 : -3, high: 3 });
      const xt = x!.transpose();
      const got = op(xt).toTypedArray();
      expectClose(got, Array.from(xt.toTypedArray(), ref), 1e-12, 1e-12);
    });
  }

  it("sigmoid does not overflow for large |x|", () => {
    const y = tensor([-1000, -50, 0, 50, 1000]).sigmoid().toArray() as number[];
    expect(y.every(Number.isFinite)).toBe(true);
    expect(y[0]).toBe(0);
    expect(y[2]).toBe(0.5);
    expect(y[4]).toBe(1);
  });

  it("relu and abs have gradient 0 at exactly 0, as in PyTorch", () => {
    const x = tensor([-1, 0, 2], { requiresGrad: true });
    x.relu().sum().backward();
    expect(x.grad!.toArray()).toEqual([0, 0, 1]);
    x.zeroGrad();
    x.abs().sum().backward();
    expect(x.grad!.toArray()).toEqual([-1, 0, 1]);
  });
});
