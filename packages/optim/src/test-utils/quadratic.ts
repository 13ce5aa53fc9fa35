import { tensor, type DType, type Tensor } from "@pico/core";
import type { Optimizer } from "../optimizer.js";

/** f(x) = sum(a * x^2), whose gradient is 2 * a * x; `x` starts at `x0` and requires grad. */
export function quadratic(a: number[], x0: number[], dtype: DType = "float64"): { x: Tensor; backward: () => void } {
  const x = tensor(x0, { requiresGrad: true, dtype });
  const coeff = tensor(a, { dtype });
  return { x, backward: () => x.mul(x).mul(coeff).sum().backward() };
}

/** Runs `steps` rounds of zeroGrad, backward, step and returns x after each one. */
export function run(optimizer: Optimizer, backward: () => void, x: Tensor, steps: number): number[][] {
  const trace: number[][] = [];
  for (let s = 0; s < steps; s++) {
    optimizer.zeroGrad();
    backward();
    optimizer.step();
    trace.push(Array.from(x.toTypedArray()));
  }
  return trace;
}
