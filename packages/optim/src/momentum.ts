import type { Tensor } from "@pico/core";
import type { ParamGroupInput } from "./optimizer.js";
import { withDefaults } from "./validate.js";
import { SGDFamily, type SGDGroupOptions } from "./sgd-family.js";

/** Options of {@link Momentum}; `lr` is required. */
export type MomentumOptions = { lr: number } & Partial<SGDGroupOptions>;

/**
 * SGD with momentum, PyTorch's form (not an exponential moving average):
 * `d = g + weightDecay · p`; `buf = d` on the first step, then `buf = momentum · buf + (1 - dampening) · d`;
 * `p -= lr · (nesterov ? d + momentum · buf : buf)`.
 *
 * @param params the tensors to optimise, or parameter groups `{ params, lr?, momentum?, ... }`
 * @param options `lr` (required, > 0), `momentum = 0.9` (>= 0), `dampening = 0` (in [0, 1]),
 *   `nesterov = false` (needs momentum > 0 and dampening 0), `weightDecay = 0`, `maximize = false`
 *
 * @example
 * const opt = new Momentum(model.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true });
 */
export class Momentum extends SGDFamily {
  /** DataParallel.step may split this class's update across replicas (see Optimizer.splittableStep); a subclass must declare it again. */
  static override splittableStep = true;
  /** Its step keeps no gradient, so it reads each `.grad` without taking it (see Optimizer.stepKeepsNoGrad); a subclass must declare it again. */
  static override stepKeepsNoGrad = true;

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDGroupOptions>>, options: MomentumOptions) {
    super("Momentum", params, withDefaults("Momentum", { lr: undefined, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false }, options));
  }
}
