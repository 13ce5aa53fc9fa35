import type { Tensor } from "@pico/core";
import { Adam, AdamW, CosineAnnealingLR, LinearWarmup, Momentum, OneCycleLR, SGD, StepLR, type LRScheduler, type Optimizer } from "@pico/optim";
import type { OptimizerName, SchedulerName } from "./args.js";

export function defaultLr(optimizer: OptimizerName, scheduler: SchedulerName): number {
  if (optimizer === "sgd" || optimizer === "momentum") return scheduler === "onecycle" ? 0.1 : 0.05;
  return scheduler === "onecycle" ? 5e-3 : 1e-3;
}

export function buildOptimizer(name: OptimizerName, params: Tensor[], lr: number): Optimizer {
  switch (name) {
    case "sgd":
      return new SGD(params, { lr });
    case "momentum":
      return new Momentum(params, { lr, momentum: 0.9 });
    case "adam":
      return new Adam(params, { lr });
    case "adamw":
      return new AdamW(params, { lr, weightDecay: 1e-2 });
  }
}

/** Schedulers step once per batch; `stepsPerEpoch * epochs` is the whole run. */
export function buildScheduler(name: SchedulerName, optimizer: Optimizer, lr: number, stepsPerEpoch: number, epochs: number): LRScheduler | null {
  const totalSteps = Math.max(1, stepsPerEpoch * epochs);
  switch (name) {
    case "none":
      return null;
    case "step":
      return new StepLR(optimizer, { stepSize: Math.max(1, stepsPerEpoch), gamma: 0.5 });
    case "cosine":
      return new CosineAnnealingLR(optimizer, { tMax: totalSteps });
    case "onecycle":
      return new OneCycleLR(optimizer, { maxLr: lr, totalSteps, pctStart: 0.25 });
    case "warmup":
      return new LinearWarmup(optimizer, { warmupSteps: Math.min(totalSteps, Math.max(1, Math.round(stepsPerEpoch / 4))), startFactor: 0.1 });
  }
}
