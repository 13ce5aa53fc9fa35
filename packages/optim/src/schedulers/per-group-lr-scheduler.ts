import { LRScheduler } from "./lr-scheduler.js";
import type { SchedulerConfig } from "./lr-scheduler.js";

/**
 * Base of the schedules in which each group's lr is a formula of that group's base lr and the step
 * alone (StepLR, MultiStepLR, CosineAnnealingLR, LinearWarmup: PyTorch's closed forms, written as
 * `[f(base_lr) for base_lr in self.base_lrs]`, and what torch's LambdaLR computes from its lambda).
 * To write your own, extend it with `lrOf(baseLr, epoch)` for one group; stepping, every group's lr and
 * the state dict come with it. Extend LRScheduler with `lrAt(epoch)` instead when the lrs are not one
 * formula over the base lrs (OneCycleLR).
 *
 * @example
 * // lr(t) = base · factor for `warmup` steps, then base / sqrt(t - warmup + 1)
 * class WarmupInverseSqrt extends PerGroupLRScheduler<{ warmup: number; factor: number }> {
 *   constructor(optimizer: Optimizer, options: { warmup: number; factor: number }) {
 *     super("WarmupInverseSqrt", optimizer, { ...options });
 *   }
 *   protected lrOf(baseLr: number, epoch: number): number {
 *     const { warmup, factor } = this.config;
 *     return epoch < warmup ? baseLr * factor : baseLr / Math.sqrt(epoch - warmup + 1);
 *   }
 * }
 */
export abstract class PerGroupLRScheduler<C extends SchedulerConfig = SchedulerConfig> extends LRScheduler<C> {
  /** The lr at step `epoch` of a group whose base lr is `baseLr`. */
  protected abstract lrOf(baseLr: number, epoch: number): number;

  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((baseLr) => this.lrOf(baseLr, epoch));
  }
}
