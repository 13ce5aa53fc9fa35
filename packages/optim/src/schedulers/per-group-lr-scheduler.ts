import { LRScheduler } from "./lr-scheduler.js";
import type { SchedulerConfig } from "./lr-scheduler.js";

/**
 * Base of the schedules in which each group's lr is a formula of that group's base lr and the step
 * alone (StepLR, MultiStepLR, CosineAnnealingLR, LinearWarmup: PyTorch's closed forms, written as
 * `[f(base_lr) for base_lr in self.base_lrs]`); a subclass writes the formula for one group.
 */
export abstract class PerGroupLRScheduler<C extends SchedulerConfig> extends LRScheduler<C> {
  /** The lr at step `epoch` of a group whose base lr is `baseLr`. */
  protected abstract lrOf(baseLr: number, epoch: number): number;

  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((baseLr) => this.lrOf(baseLr, epoch));
  }
}
