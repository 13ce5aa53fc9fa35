import type { Optimizer } from "../optimizer.js";
import { check, checkPositiveInteger, isFiniteNumber, withDefaults } from "../validate.js";
import { PerGroupLRScheduler } from "./per-group-lr-scheduler.js";

/** Options of {@link LinearWarmup}. */
export interface LinearWarmupOptions {
  warmupSteps: number;
  startFactor?: number;
}

/**
 * Scales each group's lr linearly from `startFactor · baseLr` up to `baseLr` over `warmupSteps` steps,
 * then holds it, as torch.optim.lr_scheduler.LinearLR with `end_factor = 1`:
 * `lr(t) = baseLr · (startFactor + (1 - startFactor) · min(t, warmupSteps) / warmupSteps)`.
 *
 * @param optimizer the optimizer whose groups' lr it sets
 * @param options `warmupSteps` (integer > 0, required), `startFactor = 1/3` (in (0, 1], PyTorch's default)
 *
 * @example
 * const warmup = new LinearWarmup(opt, { warmupSteps: 500, startFactor: 0.01 }); // step it every batch
 */
export class LinearWarmup extends PerGroupLRScheduler<Required<LinearWarmupOptions>> {
  constructor(optimizer: Optimizer, options: LinearWarmupOptions) {
    const o = withDefaults<Required<LinearWarmupOptions>>("LinearWarmup", { warmupSteps: undefined, startFactor: 1 / 3 }, options);
    checkPositiveInteger("LinearWarmup", "warmupSteps", o.warmupSteps);
    check(isFiniteNumber(o.startFactor) && o.startFactor > 0 && o.startFactor <= 1, "LinearWarmup", "startFactor", "a number in (0, 1]", o.startFactor);
    super("LinearWarmup", optimizer, o);
  }

  protected lrOf(baseLr: number, epoch: number): number {
    const { warmupSteps, startFactor } = this.config;
    return baseLr * (startFactor + ((1 - startFactor) * Math.min(epoch, warmupSteps)) / warmupSteps);
  }
}
