import type { Tensor } from "@pico/core";
import type { ParamGroupInput } from "./optimizer.js";
import { withDefaults } from "./validate.js";
import { SGDFamily, type SGDGroupOptions } from "./sgd-family.js";

/** Options of {@link SGD}; `lr` is required. */
export type SGDOptions = { lr: number } & Partial<SGDGroupOptions>;

/**
 * Stochastic gradient descent, as torch.optim.SGD: `p -= lr · (g + weightDecay · p)`, and with
 * `momentum > 0` PyTorch's velocity update (see {@link Momentum}).
 *
 * @param params the tensors to optimise, or parameter groups `{ params, lr?, ... }` with their own options
 * @param options `lr` (required, > 0), `weightDecay = 0` (L2 penalty added to the gradient),
 *   `momentum = 0`, `dampening = 0`, `nesterov = false`, `maximize = false` (ascend: the gradient's sign flipped first)
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1 });
 * opt.zeroGrad();
 * lossFn(model.forward(x), y).backward();
 * opt.step();
 */
export class SGD extends SGDFamily {
  /** DataParallel.step may split this class's update across replicas (see Optimizer.splittableStep); a subclass must declare it again. */
  static override splittableStep = true;
  /** Its step keeps no gradient, so it reads each `.grad` without taking it (see Optimizer.stepKeepsNoGrad); a subclass must declare it again. */
  static override stepKeepsNoGrad = true;

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDGroupOptions>>, options: SGDOptions) {
    super("SGD", params, withDefaults("SGD", { lr: undefined, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false }, options));
  }
}
