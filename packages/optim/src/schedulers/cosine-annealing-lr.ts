import type { Optimizer } from "../optimizer.js";
import { checkNonNegative, checkPositiveInteger, withDefaults } from "../validate.js";
import { PerGroupLRScheduler } from "./per-group-lr-scheduler.js";

/** Options of {@link CosineAnnealingLR}. */
export interface CosineAnnealingLROptions {
  tMax: number;
  etaMin?: number;
}

/**
 * Anneals each group's lr from its base value to `etaMin` along half a cosine over `tMax` steps, as
 * torch.optim.lr_scheduler.CosineAnnealingLR (its closed form, without restarts):
 * `lr(t) = etaMin + (baseLr - etaMin) · (1 + cos(π · t / tMax)) / 2`. Past `tMax` the cosine continues.
 *
 * @param optimizer the optimizer whose groups' lr it sets
 * @param options `tMax` (integer > 0, required), `etaMin = 0` (>= 0)
 *
 * @example
 * const sched = new CosineAnnealingLR(opt, { tMax: epochs });
 */
export class CosineAnnealingLR extends PerGroupLRScheduler<Required<CosineAnnealingLROptions>> {
  constructor(optimizer: Optimizer, options: CosineAnnealingLROptions) {
    const o = withDefaults<Required<CosineAnnealingLROptions>>("CosineAnnealingLR", { tMax: undefined, etaMin: 0 }, options);
    checkPositiveInteger("CosineAnnealingLR", "tMax", o.tMax);
    checkNonNegative("CosineAnnealingLR", "etaMin", o.etaMin);
    super("CosineAnnealingLR", optimizer, o);
  }

  protected lrOf(baseLr: number, epoch: number): number {
    const { tMax, etaMin } = this.config;
    return etaMin + (baseLr - etaMin) * ((1 + Math.cos((Math.PI * epoch) / tMax)) / 2);
  }
}
