import type { Optimizer } from "../optimizer.js";
import { check, checkPositive, withDefaults } from "../validate.js";
import { PerGroupLRScheduler } from "./per-group-lr-scheduler.js";

/** Options of {@link MultiStepLR}. */
export interface MultiStepLROptions {
  milestones: number[];
  gamma?: number;
}

/**
 * Decays each group's lr by `gamma` once the step count reaches each milestone, as
 * torch.optim.lr_scheduler.MultiStepLR: `lr(t) = baseLr · gamma^(number of milestones <= t)`
 * (a milestone listed twice counts twice).
 *
 * @param optimizer the optimizer whose groups' lr it sets
 * @param options `milestones` (integers >= 0, any order, required), `gamma = 0.1` (> 0)
 *
 * @example
 * const sched = new MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 */
export class MultiStepLR extends PerGroupLRScheduler<Required<MultiStepLROptions>> {
  constructor(optimizer: Optimizer, options: MultiStepLROptions) {
    const o = withDefaults<Required<MultiStepLROptions>>("MultiStepLR", { milestones: undefined, gamma: 0.1 }, options);
    check(Array.isArray(o.milestones), "MultiStepLR", "milestones", "an array of integers >= 0", o.milestones);
    o.milestones.forEach((m, i) => check(Number.isInteger(m) && m >= 0, "MultiStepLR", `milestones[${i}]`, "an integer >= 0", m));
    checkPositive("MultiStepLR", "gamma", o.gamma);
    super("MultiStepLR", optimizer, { milestones: [...o.milestones].sort((a, b) => a - b), gamma: o.gamma });
  }

  protected lrOf(baseLr: number, epoch: number): number {
    const passed = this.config.milestones.filter((m) => m <= epoch).length;
    return baseLr * this.config.gamma ** passed;
  }
}
