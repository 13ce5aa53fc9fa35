import { ArgumentError, PicoError } from "@pico/core";
import type { OptionValue, Optimizer } from "../optimizer.js";
import { check, checkBoolean, checkPositive, checkPositiveInteger, isFiniteNumber, show, withDefaults } from "../validate.js";
import { LRScheduler } from "./lr-scheduler.js";

/** Options of {@link OneCycleLR}; give `totalSteps`, or `epochs` and `stepsPerEpoch`. */
export interface OneCycleLROptions {
  maxLr: number | number[];
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  anneal?: "cos" | "linear";
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
}

type OneCycleConfig = {
  totalSteps: number;
  pctStart: number;
  anneal: string;
  threePhase: boolean;
  cycleMomentum: boolean;
  useBeta1: boolean;
  initialLrs: number[];
  maxLrs: number[];
  minLrs: number[];
  baseMomentums: number[];
  maxMomentums: number[];
};

type Level = "initial" | "max" | "min";
type MomentumLevel = "base" | "max";
interface Phase {
  endStep: number;
  lr: [Level, Level];
  momentum: [MomentumLevel, MomentumLevel];
}

/**
 * The 1cycle policy (Smith & Topor), as torch.optim.lr_scheduler.OneCycleLR: the lr rises from
 * `maxLr / divFactor` to `maxLr` over the first `pctStart` of the steps, then falls to
 * `maxLr / divFactor / finalDivFactor` (with `threePhase`, it first falls back to the initial lr and
 * only then to the minimum), each phase annealed by a cosine or a line. Momentum (or Adam's beta1)
 * cycles inversely between `maxMomentum` and `baseMomentum` unless `cycleMomentum` is false; as in
 * PyTorch this also turns momentum on for an SGD built without it. Step it once per batch; stepping
 * more than `totalSteps` times is an error.
 *
 * @param optimizer the optimizer whose groups' lr (and momentum) it sets
 * @param options `maxLr` (> 0, or one per group; required); `totalSteps`, or `epochs` and `stepsPerEpoch`
 *   (integers > 0); `pctStart = 0.3` (in [0, 1]); `anneal = "cos"` (or "linear"); `divFactor = 25`;
 *   `finalDivFactor = 1e4`; `threePhase = false`; `cycleMomentum = true`; `baseMomentum = 0.85`;
 *   `maxMomentum = 0.95`
 *
 * @example
 * const sched = new OneCycleLR(opt, { maxLr: 0.01, epochs: 3, stepsPerEpoch: loader.length });
 * // after every batch: opt.step(); sched.step();
 */
export class OneCycleLR extends LRScheduler<OneCycleConfig> {
  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    const config = resolve(optimizer, options);
    super("OneCycleLR", optimizer, config, config.initialLrs);
  }

  protected lrAt(epoch: number): number[] {
    return this.valuesAt(epoch).lrs;
  }

  protected override setEpoch(epoch: number): void {
    const { momentums } = this.valuesAt(epoch);
    super.setEpoch(epoch);
    if (!this.config.cycleMomentum) return;
    this.optimizer.paramGroups.forEach((group, i) => {
      const options = group as unknown as Record<string, OptionValue>;
      const m = momentums[i]!;
      if (this.config.useBeta1) options["betas"] = [m, ...(options["betas"] as number[]).slice(1)];
      else options["momentum"] = m;
    });
  }

  private valuesAt(step: number): { lrs: number[]; momentums: number[] } {
    const c = this.config;
    if (step > c.totalSteps) {
      throw new PicoError(`OneCycleLR: tried to step ${step} times, but the schedule has totalSteps ${c.totalSteps}`);
    }
    const phases = this.phases();
    let start = 0;
    let phase = phases[phases.length - 1]!;
    for (let i = 0; i < phases.length; i++) {
      if (step <= phases[i]!.endStep || i === phases.length - 1) {
        phase = phases[i]!;
        break;
      }
      start = phases[i]!.endStep;
    }
    // A phase shorter than a step (few totalSteps, pctStart near 0 or 1) counts as over: its end value.
    const span = phase.endStep - start;
    const pct = span > 0 ? (step - start) / span : 1;
    const anneal = c.anneal === "cos" ? annealCos : annealLinear;
    const levels: Record<Level, number[]> = { initial: c.initialLrs, max: c.maxLrs, min: c.minLrs };
    const momentumLevels: Record<MomentumLevel, number[]> = { base: c.baseMomentums, max: c.maxMomentums };
    const lrs = c.maxLrs.map((_, g) => anneal(levels[phase.lr[0]][g]!, levels[phase.lr[1]][g]!, pct));
    const momentums = c.maxLrs.map((_, g) => anneal(momentumLevels[phase.momentum[0]][g]!, momentumLevels[phase.momentum[1]][g]!, pct));
    return { lrs, momentums };
  }

  private phases(): Phase[] {
    const { totalSteps, pctStart, threePhase } = this.config;
    if (threePhase) {
      return [
        { endStep: pctStart * totalSteps - 1, lr: ["initial", "max"], momentum: ["max", "base"] },
        { endStep: 2 * pctStart * totalSteps - 2, lr: ["max", "initial"], momentum: ["base", "max"] },
        { endStep: totalSteps - 1, lr: ["initial", "min"], momentum: ["max", "max"] },
      ];
    }
    return [
      { endStep: pctStart * totalSteps - 1, lr: ["initial", "max"], momentum: ["max", "base"] },
      { endStep: totalSteps - 1, lr: ["max", "min"], momentum: ["base", "max"] },
    ];
  }
}

function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}

function resolve(optimizer: Optimizer, options: OneCycleLROptions): OneCycleConfig {
  const name = "OneCycleLR";
  const o = withDefaults<Required<Omit<OneCycleLROptions, "totalSteps" | "epochs" | "stepsPerEpoch">> & OneCycleLROptions>(
    name,
    {
      maxLr: undefined,
      totalSteps: undefined,
      epochs: undefined,
      stepsPerEpoch: undefined,
      pctStart: 0.3,
      anneal: "cos",
      divFactor: 25,
      finalDivFactor: 1e4,
      threePhase: false,
      cycleMomentum: true,
      baseMomentum: 0.85,
      maxMomentum: 0.95,
    },
    options,
  );
  const groups = (optimizer as Optimizer | undefined)?.paramGroups?.length;
  if (groups === undefined) throw new ArgumentError(`${name}: optimizer must be an Optimizer, but got ${show(optimizer)}`);
  let totalSteps: number;
  if (o.totalSteps !== undefined) {
    checkPositiveInteger(name, "totalSteps", o.totalSteps);
    totalSteps = o.totalSteps;
  } else if (o.epochs !== undefined && o.stepsPerEpoch !== undefined) {
    checkPositiveInteger(name, "epochs", o.epochs);
    checkPositiveInteger(name, "stepsPerEpoch", o.stepsPerEpoch);
    totalSteps = o.epochs * o.stepsPerEpoch;
  } else {
    throw new ArgumentError(
      `${name}: give totalSteps, or both epochs and stepsPerEpoch, but got totalSteps ${o.totalSteps}, epochs ${o.epochs}, stepsPerEpoch ${o.stepsPerEpoch}`,
    );
  }
  check(isFiniteNumber(o.pctStart) && o.pctStart >= 0 && o.pctStart <= 1, name, "pctStart", "a number in [0, 1]", o.pctStart);
  check(o.anneal === "cos" || o.anneal === "linear", name, "anneal", '"cos" or "linear"', o.anneal);
  checkPositive(name, "divFactor", o.divFactor);
  checkPositive(name, "finalDivFactor", o.finalDivFactor);
  checkBoolean(name, "threePhase", o.threePhase);
  checkBoolean(name, "cycleMomentum", o.cycleMomentum);
  const perGroup = (arg: string, value: number | number[], rule: (v: number) => boolean, ruleText: string): number[] => {
    const list = Array.isArray(value) ? value : new Array<number>(groups).fill(value);
    if (list.length !== groups) {
      throw new ArgumentError(`${name}: ${arg} must be a number or one number per parameter group (${groups}), but got ${show(value)}`);
    }
    list.forEach((v, i) => check(isFiniteNumber(v) && rule(v), name, Array.isArray(value) ? `${arg}[${i}]` : arg, ruleText, v));
    return [...list];
  };
  const maxLrs = perGroup("maxLr", o.maxLr, (v) => v > 0, "a finite number > 0");
  const initialLrs = maxLrs.map((lr) => lr / o.divFactor);
  const minLrs = initialLrs.map((lr) => lr / o.finalDivFactor);
  let useBeta1 = false;
  let baseMomentums: number[] = [];
  let maxMomentums: number[] = [];
  if (o.cycleMomentum) {
    const defaults = optimizer.defaults as unknown as Record<string, OptionValue>;
    if (!("momentum" in defaults) && !("betas" in defaults)) {
      throw new ArgumentError(`${name}: cycleMomentum needs an optimizer with momentum or betas, but ${optimizer.name} has neither; pass cycleMomentum: false`);
    }
    useBeta1 = "betas" in defaults;
    baseMomentums = perGroup("baseMomentum", o.baseMomentum, (v) => v >= 0 && v < 1, "a number in [0, 1)");
    maxMomentums = perGroup("maxMomentum", o.maxMomentum, (v) => v >= 0 && v < 1, "a number in [0, 1)");
  }
  return {
    totalSteps,
    pctStart: o.pctStart,
    anneal: o.anneal,
    threePhase: o.threePhase,
    cycleMomentum: o.cycleMomentum,
    useBeta1,
    initialLrs,
    maxLrs,
    minLrs,
    baseMomentums,
    maxMomentums,
  };
}
