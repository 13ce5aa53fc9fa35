import { Generator, Tensor, type TraceTarget } from "@pico/core";
import { Conv2d, ELU, F, GELU, Hardsigmoid, Hardswish, Mish, PReLU, SiLU } from "@pico/nn";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "./export-onnx.js";
import { onnx } from "./onnx-proto.js";
import { maxRelativeDifference, runOrt } from "./test-utils/ort.js";

// The activations and paddings opset 13 expresses (some as short compositions), each run in
// onnxruntime-node against Pico's eager output, on values spread over every branch (|x| up to ~30).

const gen = new Generator(11);
const x = Tensor.randn([3, 4, 6, 5], { generator: gen }).mul(8);

async function expectSame(target: TraceTarget, input: Tensor = x): Promise<string[]> {
  const bytes = exportOnnx(target, input);
  const want = (typeof target === "function" ? target(input) : (target as { call(x: Tensor): Tensor }).call(input)) as Tensor;
  const got = await runOrt(bytes, { input });
  expect(got.dims).toEqual(want.shape);
  expect(maxRelativeDifference(got.data, want.toTypedArray())).toBeLessThan(1e-5);
  return (onnx.ModelProto.decode(bytes).graph!.node ?? []).map((n) => n.opType ?? "");
}

describe("activations in onnxruntime-node", () => {
  const cases: [string, TraceTarget, string[]][] = [
    ["ELU(alpha 0.7)", new ELU(0.7), ["Elu"]],
    ["GELU (erf)", new GELU(), ["Div", "Erf", "Add", "Mul", "Mul"]],
    ["GELU (tanh approximation)", new GELU({ approximate: "tanh" }), ["Tanh"]],
    ["SiLU", new SiLU(), ["Sigmoid", "Mul"]],
    ["Mish", new Mish(), ["Softplus", "Tanh", "Mul"]],
    ["Hardswish", new Hardswish(), ["HardSigmoid", "Mul"]],
    ["Hardsigmoid", new Hardsigmoid(), ["HardSigmoid"]],
    ["softplus(beta 2, threshold 5)", (t: Tensor) => F.softplus(t, { beta: 2, threshold: 5 }), ["Softplus", "Greater", "Where"]],
    ["PReLU, one slope per channel", new PReLU({ numParameters: 4, init: 0.1 }), ["Relu", "Min", "Mul", "Add"]],
  ];
  for (const [name, target, ops] of cases) {
    it(`${name}: ${ops.join(", ")}`, async () => {
      const got = await expectSame(target);
      for (const op of ops) expect(got).toContain(op);
    });
  }
});

describe("padding modes in onnxruntime-node", () => {
  for (const mode of ["reflect", "replicate"] as const) {
    it(`${mode} padding of the last two axes, and of the last one, then a convolution`, async () => {
      const conv = new Conv2d(4, 2, 3, { generator: gen });
      expect(await expectSame((t: Tensor) => conv.call(F.pad(t, [2, 1, 1, 3], { mode })))).toContain("Pad");
      expect(await expectSame((t: Tensor) => F.pad(t, [0, 3], { mode }))).toEqual(["Pad", "Identity"]);
      expect(await expectSame((t: Tensor) => F.pad(t, [0, 0, 2, 1], { mode }))).toEqual(["Pad", "Identity"]);
    });
  }

  it("refuses circular padding, which opset 13's Pad lacks", () => {
    expect(() => exportOnnx((t: Tensor) => F.pad(t, [1, 1], { mode: "circular" }), x)).toThrow(
      /exportOnnx: PadMode2d \(node pad_mode2d\) pads in circular mode .*opset 19/,
    );
  });
});
