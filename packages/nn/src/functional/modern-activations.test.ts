import { Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { ELU } from "../layers/elu.js";
import { GELU } from "../layers/gelu.js";
import { PReLU } from "../layers/prelu.js";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { elu } from "./elu.js";
import { gelu } from "./gelu.js";
import { hardsigmoid } from "./hardsigmoid.js";
import { hardswish } from "./hardswish.js";
import { mish } from "./mish.js";
import { prelu } from "./prelu.js";
import { silu } from "./silu.js";

/** Float64 inputs in [-5, 5) kept 0.05 away from the kinks at -3, 0 and 3, so that finite differences see one piece. */
function awayFromKinks(shape: number[], seed: number): Tensor {
  const t = randn(shape, seed, { requiresGrad: true }).mul(2.5).detach();
  const d = t.data.data;
  for (let i = 0; i < d.length; i++) for (const k of [-3, 0, 3]) if (Math.abs(d[i]! - k) < 0.05) d[i] = k + 0.1;
  t.requiresGrad = true;
  return t;
}

describe("modern activations", () => {
  it("take known values", () => {
    expectClose(values(gelu(tensor([0, 1, -1], { dtype: "float64" }))), [0, 0.8413447460685429, -0.15865525393145707], "gelu", 1e-15);
    expectClose(values(silu(tensor([0, 2], { dtype: "float64" }))), [0, 2 / (1 + Math.exp(-2))], "silu", 1e-15);
    expectClose(values(elu(tensor([-1, 2], { dtype: "float64" }), 0.5)), [0.5 * (Math.exp(-1) - 1), 2], "elu", 1e-15);
    expect(values(hardswish(tensor([-4, -1.5, 3, 5])))).toEqual([0, -0.375, 3, 5]);
    expect(values(hardsigmoid(tensor([-4, 0, 1.5, 5])))).toEqual([0, 0.5, 0.75, 1]);
    expectClose(values(mish(tensor([100, -100, 0], { dtype: "float64" }))), [100, 0, 0], "mish saturates without overflow", 1e-12);
  });

  it("gradcheck in float64, x=[2,3,5] and a transposed input", () => {
    const fns: [string, (a: Tensor) => Tensor][] = [
      ["gelu", (a) => gelu(a)],
      ["gelu tanh", (a) => gelu(a, { approximate: "tanh" })],
      ["silu", silu],
      ["elu", (a) => elu(a, 1.3)],
      ["hardswish", hardswish],
      ["hardsigmoid", hardsigmoid],
      ["mish", mish],
    ];
    for (const [name, fn] of fns) {
      expect(gradcheck(fn, [awayFromKinks([2, 3, 5], 1)]), name).toBe(true);
      expect(gradcheck((a) => fn(a.transpose()), [awayFromKinks([4, 3], 2)]), `${name} transposed`).toBe(true);
    }
    expect(gradcheck((a, w) => prelu(a, w), [awayFromKinks([2, 3, 4], 3), randn([3], 4, { requiresGrad: true })])).toBe(true);
    expect(gradcheck((a, w) => prelu(a, w), [awayFromKinks([5], 5), randn([1], 6, { requiresGrad: true })])).toBe(true);
  });

  it("refuse bad arguments, naming the layer and the rule", () => {
    expect(() => new GELU({ approximate: "erf" as "none" })).toThrow('GELU: approximate must be "none" or "tanh", but got "erf"');
    expect(() => gelu(tensor([1]), { approximate: "fast" as "none" })).toThrow('gelu: approximate must be "none" or "tanh", but got "fast"');
    expect(() => new ELU(Number.NaN)).toThrow(/ELU: alpha/);
    expect(() => new PReLU({ numParameters: 0 })).toThrow(/PReLU: numParameters/);
    expect(() => new PReLU({ numParameters: 4 }).forward(Tensor.zeros([2, 3, 5]))).toThrow(
      "prelu: weight must hold 1 value or one per channel (axis 1 of the input: 3), but got 4 for input of shape [2, 3, 5]",
    );
    expect(() => prelu(Tensor.zeros([2, 3]), Tensor.zeros([3, 1]))).toThrow("prelu: weight must be a 1-D tensor, but got shape [3, 1]");
    expect(() => silu(null as unknown as Tensor)).toThrow("silu: input must be a Tensor, but got null");
  });

  it("PReLU learns its slope: the gradient reaches the weight", () => {
    const layer = new PReLU({ numParameters: 2 });
    layer.forward(tensor([[-1, 2], [-3, -4]])).sum().backward();
    expect(values(layer.weight.grad!)).toEqual([-4, -4]);
  });
});
