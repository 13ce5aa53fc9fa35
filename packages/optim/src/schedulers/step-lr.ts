import type { Optimizer } from "../optimizer.js";
import { checkPositive, checkPositiveInteger, withDefaults } from "../validate.js";
import { PerGroupLRScheduler } from "./per-group-lr-scheduler.js";

/** Options of {@link StepLR}. */
export interface StepLROptions {
  stepSize: number;
  gamma?: number;
}

/**
 * Decays each group's lr by `gamma` every `stepSize` steps, as torch.optim.lr_scheduler.StepLR:
 * `lr(t) = baseLr · gamma^floor(t / stepSize)`.
 *
 * @param optimizer the optimizer whose groups' lr it sets
 * @param options `stepSize` (integer > 0, required), `gamma = 0.1` (> 0)
 *
 * @example
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 }); // 0.1 → 0.01 after 30 epochs
 * for (let epoch = 0; epoch < 90; epoch++) { trainOneEpoch(); sched.step(); }
 */
export class StepLR extends PerGroupLRScheduler<Required<StepLROptions>> {
  constructor(optimizer: Optimizer, options: StepLROptions) {
    const o = withDefaults<Required<StepLROptions>>("StepLR", { stepSize: undefined, gamma: 0.1 }, options);
    checkPositiveInteger("StepLR", "stepSize", o.stepSize);
    checkPositive("StepLR", "gamma", o.gamma);
    super("StepLR", optimizer, o);
  }

  protected lrOf(baseLr: number, epoch: number): number {
    return baseLr * this.config.gamma ** Math.floor(epoch / this.config.stepSize);
  }
}
