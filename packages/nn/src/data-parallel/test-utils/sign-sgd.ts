import { ArgumentError, type FloatArray, type Tensor } from "@pico/core";
import { Optimizer, type ParamGroup } from "@pico/optim";

/** A user's optimizer that computes its update itself (the example of Optimizer's docs): sign descent, not splittable. */
export class SignSGD extends Optimizer<{ lr: number }> {
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
