import { ArgumentError, Tensor, tensor, type FloatArray } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Optimizer, type ParamGroup } from "./index.js";

// The example of Optimizer's TSDoc, written against the public entry only.
class SignSGD extends Optimizer<{ lr: number }> {
  constructor(params: Iterable<Tensor>, options: { lr: number }) {
    super("SignSGD", params, { lr: options.lr });
  }
  protected validateOptions(o: { lr: number }, where: string): void {
    if (!(o.lr > 0)) throw new ArgumentError(`SignSGD: ${where}lr must be > 0, but got ${o.lr}`);
  }
  protected requiredStateKeys(): string[] {
    return [];
  }
  protected updateParameter(_param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<{ lr: number }>): void {
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - group.lr * Math.sign(g[i]!);
  }
}

describe("a custom Optimizer subclass", () => {
  it("gets groups, strided parameters, validation and state dicts from the base", () => {
    const base = tensor([[1, -2], [3, 0.5]], { dtype: "float64" });
    const w = new Tensor(base.data.transpose(1, 0), { requiresGrad: true });
    const opt = new SignSGD([w], { lr: 0.25 });
    w.mul(tensor([[1, -1], [2, 3]], { dtype: "float64" })).sum().backward();
    opt.step();
    // w = [[1, 3], [-2, 0.5]], grad = [[1, -1], [2, 3]]
    expect(w.toArray()).toEqual([[1 - 0.25, 3 + 0.25], [-2 - 0.25, 0.5 - 0.25]]);
    expect(base.toArray()).toEqual([[0.75, -2.25], [3.25, 0.25]]);
    expect(opt.stateDict()).toEqual({ state: [null], paramGroups: [{ params: [0], lr: 0.25 }] });
    expect(() => new SignSGD([w], { lr: 0 })).toThrow("SignSGD: lr must be > 0, but got 0");
  });

  it("tells a caller who passed a model instead of its parameters", () => {
    const model = { parameters: (): Tensor[] => [] };
    expect(() => new SignSGD(model as never, { lr: 1 })).toThrow(
      "SignSGD: params must be an iterable of Tensors or of parameter groups { params, ...options }, but got an object with keys parameters (did you mean model.parameters()?)",
    );
  });
});
