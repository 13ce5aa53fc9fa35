import type { Tensor } from "@pico/core";
import { AdamFamily, type AdamGroupOptions } from "./adam-family.js";
import type { ParamGroupInput } from "./optimizer.js";
import { withDefaults } from "./validate.js";

/** Options of {@link Adam} and {@link AdamW}; every one has a default. */
export type AdamOptions = Partial<AdamGroupOptions>;

/**
 * Adam (Kingma & Ba), as torch.optim.Adam: moments start at zero and are bias-corrected,
 * `m = β1·m + (1-β1)·g`, `v = β2·v + (1-β2)·g²`,
 * `p -= lr / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + eps)`; `weightDecay` adds `wd·p` to the gradient
 * (L2; see {@link AdamW} for decoupled decay); `amsgrad` uses the running maximum of `v`.
 *
 * @param params the tensors to optimise, or parameter groups `{ params, lr?, betas?, ... }`
 * @param options `lr = 1e-3` (> 0), `betas = [0.9, 0.999]` (each in [0, 1)), `eps = 1e-8` (>= 0),
 *   `weightDecay = 0` (>= 0), `amsgrad = false`, `maximize = false` (ascend: the gradient's sign flipped first)
 *
 * @example
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends AdamFamily {
  /** DataParallel.step may split this class's update across replicas (see Optimizer.splittableStep); a subclass must declare it again. */
  static override splittableStep = true;
  /** Its step keeps no gradient, so it reads each `.grad` without taking it (see Optimizer.stepKeepsNoGrad); a subclass must declare it again. */
  static override stepKeepsNoGrad = true;

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroupOptions>>, options: AdamOptions = {}) {
    super("Adam", params, withDefaults("Adam", { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false }, options), false);
  }
}
