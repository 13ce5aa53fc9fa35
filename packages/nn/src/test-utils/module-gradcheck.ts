import { Generator, Tensor, noGrad } from "@pico/core";
import { expect } from "vitest";
import type { Module } from "../module.js";

/**
 * Central differences on a float64 module's own parameters (and its input): the analytic gradients
 * of sum(v · module(x)) for a fixed random v must match. gradcheck cannot do this because it copies
 * its inputs, and a module computes with its own Parameter objects.
 */
export function checkModuleGradients(module: Module, input: Tensor, options: { eps?: number; atol?: number; rtol?: number } = {}): void {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-4;
  const x = new Tensor(input.to("float64").data, { requiresGrad: true });
  const probe = module.forward(x);
  const gen = new Generator(99);
  const v = Tensor.zeros(probe.shape, { dtype: "float64" });
  for (let i = 0; i < v.size; i++) v.data.data[i] = gen.random() * 2 - 1;
  const objective = (): number => noGrad(() => module.forward(x).mul(v).sum().item());
  module.zeroGrad();
  module.forward(x).mul(v).sum().backward();
  const targets: [string, Tensor][] = [["input", x], ...module.namedParameters()];
  for (const [name, t] of targets) {
    expect(t.dtype, `${name} must be float64`).toBe("float64");
    const analytic = t.grad === null ? new Float64Array(t.size) : Float64Array.from(t.grad.toTypedArray());
    const data = t.data.data;
    for (let i = 0; i < t.size; i++) {
      const at = t.data.offset + i;
      const original = data[at]!;
      data[at] = original + eps;
      const plus = objective();
      data[at] = original - eps;
      const minus = objective();
      data[at] = original;
      const numeric = (plus - minus) / (2 * eps);
      if (!(Math.abs(analytic[i]! - numeric) <= atol + rtol * Math.abs(numeric))) {
        expect.fail(`${module.constructor.name}: gradient of ${name} at element ${i}: analytic ${analytic[i]}, numeric ${numeric}`);
      }
    }
  }
}
