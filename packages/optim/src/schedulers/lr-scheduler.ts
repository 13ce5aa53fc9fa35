import { ArgumentError } from "@pico/core";
import { Optimizer } from "../optimizer.js";
import { show } from "../validate.js";

/** A scheduler's own settings, kept in its state dict: plain JSON values only. */
export type SchedulerConfig = Record<string, number | string | boolean | number[]>;

/** A scheduler snapshot, plain JSON (`JSON.parse(JSON.stringify(d))` gives an equal dict). */
export interface LRSchedulerStateDict {
  /** The class that wrote it, e.g. "StepLR"; loading into another kind is refused. */
  scheduler: string;
  lastEpoch: number;
  baseLrs: number[];
  lastLr: number[];
  config: SchedulerConfig;
}

/**
 * The learning rate each parameter group had before any scheduler touched it (PyTorch keeps this as
 * `group["initial_lr"]`), so a second scheduler built on the same optimizer starts from the same base.
 */
const initialLrs = new WeakMap<object, number>();

/**
 * Base of the learning-rate schedulers. Every one here is closed-form: the lr of step `t` is a function
 * of the base lrs, the settings and `t` alone, so a scheduler resumed from its state dict continues
 * exactly. Building a scheduler sets each group's lr to its step-0 value (as PyTorch does); each
 * `step()` advances `lastEpoch` by one and sets the lrs of the new step.
 *
 * Call `optimizer.step()` before `scheduler.step()`; step once per epoch or once per batch, as the
 * schedule was planned (OneCycleLR counts batches). Several schedulers built on one optimizer share
 * its original lrs as their base (PyTorch's `initial_lr`); the last one stepped sets the lr.
 *
 * @example
 * const opt = new Momentum(model.parameters(), { lr: 0.1 });
 * const sched = new CosineAnnealingLR(opt, { tMax: epochs });
 * for (let epoch = 0; epoch < epochs; epoch++) {
 *   trainOneEpoch(opt);
 *   sched.step();
 * }
 * const checkpoint = { optimizer: opt.stateDict(), scheduler: sched.stateDict() };
 * // later, on a freshly built pair: opt.loadStateDict(checkpoint.optimizer); sched.loadStateDict(checkpoint.scheduler);
 */
export abstract class LRScheduler<C extends SchedulerConfig = SchedulerConfig> {
  /** The name used in error messages and state dicts, e.g. `StepLR`. */
  readonly name: string;
  readonly optimizer: Optimizer;
  /** The lr of each group at step 0 of the schedule's formula. */
  baseLrs: number[];
  /** Steps taken: 0 right after construction. */
  lastEpoch = -1;
  protected config: C;
  private lastLr: number[] = [];

  protected constructor(name: string, optimizer: Optimizer, config: C, baseLrs?: number[]) {
    this.name = name;
    if (!(optimizer instanceof Optimizer)) throw new ArgumentError(`${name}: optimizer must be an Optimizer, but got ${show(optimizer)}`);
    this.optimizer = optimizer;
    this.config = config;
    if (baseLrs === undefined) {
      this.baseLrs = optimizer.paramGroups.map((group) => {
        if (!initialLrs.has(group)) initialLrs.set(group, group.lr);
        return initialLrs.get(group)!;
      });
    } else {
      optimizer.paramGroups.forEach((group, i) => initialLrs.set(group, baseLrs[i]!));
      this.baseLrs = [...baseLrs];
    }
    this.step();
  }

  /** The lr of every group at step `epoch` (closed form). */
  protected abstract lrAt(epoch: number): number[];

  /** Advances the schedule by one step and sets every group's lr. */
  step(): void {
    this.setEpoch(this.lastEpoch + 1);
  }

  /** The lrs the last `step()` (or the constructor) set, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): LRSchedulerStateDict {
    const config: SchedulerConfig = {};
    for (const [key, value] of Object.entries(this.config)) config[key] = Array.isArray(value) ? [...value] : value;
    return { scheduler: this.name, lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLr: this.getLastLr(), config };
  }

  /**
   * Restores the step count, base lrs and settings saved by `stateDict()` and sets the groups' lrs
   * (and anything else the schedule drives) to that step's values. Checks everything before changing anything.
   */
  loadStateDict(dict: LRSchedulerStateDict): void {
    const fail = (message: string): never => {
      throw new ArgumentError(`${this.name}.loadStateDict: ${message}`);
    };
    if (dict === null || typeof dict !== "object") fail(`expected a scheduler state dict, but got ${show(dict)}`);
    if (dict.scheduler !== this.name) fail(`the state dict is from a ${show(dict.scheduler)} scheduler, not a ${this.name}`);
    if (!Number.isInteger(dict.lastEpoch) || dict.lastEpoch < 0) fail(`lastEpoch must be an integer >= 0, but got ${show(dict.lastEpoch)}`);
    const groups = this.optimizer.paramGroups.length;
    for (const key of ["baseLrs", "lastLr"] as const) {
      const list: unknown = dict[key];
      if (!Array.isArray(list) || list.length !== groups || !list.every((v) => typeof v === "number" && Number.isFinite(v))) {
        fail(`${key} must be ${groups} finite numbers (one per parameter group), but got ${show(list)}`);
      }
    }
    if (dict.config === null || typeof dict.config !== "object") fail(`config must be an object, but got ${show(dict.config)}`);
    const config = { ...this.config } as SchedulerConfig;
    for (const [key, value] of Object.entries(dict.config)) {
      if (!(key in config)) fail(`config has an unknown setting ${JSON.stringify(key)}; the settings are ${Object.keys(config).join(", ")}`);
      const now = config[key]!;
      const fits = Array.isArray(now)
        ? Array.isArray(value) && value.length === now.length && value.every((v) => typeof v === "number" && Number.isFinite(v))
        : typeof value === typeof now && (typeof value !== "number" || Number.isFinite(value));
      if (!fits) fail(`config.${key} must be like ${show(now)}, but got ${show(value)}`);
      config[key] = Array.isArray(value) ? [...value] : value;
    }
    const previous = { config: this.config, baseLrs: this.baseLrs, lastEpoch: this.lastEpoch };
    this.config = config as C;
    this.baseLrs = [...dict.baseLrs];
    try {
      this.setEpoch(dict.lastEpoch);
    } catch (error) {
      Object.assign(this, previous);
      throw error;
    }
  }

  /** Sets the groups to the values of step `epoch`; subclasses that drive more than lr extend this. */
  protected setEpoch(epoch: number): void {
    const lrs = this.lrAt(epoch);
    this.lastEpoch = epoch;
    this.optimizer.paramGroups.forEach((group, i) => (group.lr = lrs[i]!));
    this.lastLr = lrs;
  }
}
