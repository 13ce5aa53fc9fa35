import type { Tensor } from "@pico/core";
import { AdamFamily, type AdamGroupOptions } from "./adam-family.js";
import type { AdamOptions } from "./adam.js";
import type { ParamGroupInput } from "./optimizer.js";
import { withDefaults } from "./validate.js";

/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW: Adam with decoupled weight decay, each step first
 * shrinks the parameter, `p *= 1 - lr·weightDecay`, then applies the Adam update of the plain gradient.
 *
 * @param params the tensors to optimise, or parameter groups `{ params, lr?, weightDecay?, ... }`
 * @param options `lr = 1e-3` (> 0), `betas = [0.9, 0.999]` (each in [0, 1)), `eps = 1e-8` (>= 0),
 *   `weightDecay = 1e-2` (>= 0), `amsgrad = false`, `maximize = false`
 *
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.05 });
 */
export class AdamW extends AdamFamily {
  /** DataParallel.step may split this class's update across replicas (see Optimizer.splittableStep); a subclass must declare it again. */
  static override splittableStep = true;
  /** Its step keeps no gradient, so it reads each `.grad` without taking it (see Optimizer.stepKeepsNoGrad); a subclass must declare it again. */
  static override stepKeepsNoGrad = true;

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroupOptions>>, options: AdamOptions = {}) {
    super("AdamW", params, withDefaults("AdamW", { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false }, options), true);
  }
}
