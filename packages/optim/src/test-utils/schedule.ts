import { expect } from "vitest";
import { Tensor } from "@pico/core";
import { Adam } from "../adam.js";
import type { Optimizer } from "../optimizer.js";
import type { LRScheduler } from "../schedulers/lr-scheduler.js";
import { SGD } from "../sgd.js";

/** An SGD with one single-element parameter group per learning rate. */
export function sgdWithGroups(...lrs: number[]): SGD {
  return new SGD(lrs.map((lr) => ({ params: [Tensor.zeros([1], { requiresGrad: true })], lr })), { lr: 1 });
}

/** An Adam with one single-element parameter group per learning rate. */
export function adamWithGroups(...lrs: number[]): Adam {
  return new Adam(lrs.map((lr) => ({ params: [Tensor.zeros([1], { requiresGrad: true })], lr })));
}

/** The lrs of every group at steps 0..steps (step 0 is what the constructor set), checking the optimizer agrees. */
export function lrTrace(scheduler: LRScheduler, optimizer: Optimizer, steps: number): number[][] {
  const trace: number[][] = [];
  for (let t = 0; t <= steps; t++) {
    if (t > 0) scheduler.step();
    expect(scheduler.lastEpoch).toBe(t);
    expect(optimizer.paramGroups.map((g) => g.lr)).toEqual(scheduler.getLastLr());
    trace.push(scheduler.getLastLr());
  }
  return trace;
}

/** Compares two lr traces step by step to `digits` decimals. */
export function expectLrs(actual: number[][], expected: number[][], digits = 14): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, t) => row.forEach((lr, g) => expect(lr, `step ${t}, group ${g}`).toBeCloseTo(expected[t]![g]!, digits)));
}

/**
 * Runs `steps` steps, saves optimizer and scheduler (through JSON for the scheduler), continues; then
 * builds a fresh pair, loads both and continues: both continuations must give identical lrs.
 */
export function expectResumable(build: () => [Optimizer, LRScheduler], before: number, after: number): void {
  const [opt, sched] = build();
  for (let t = 0; t < before; t++) sched.step();
  const optState = opt.stateDict();
  const schedState = JSON.parse(JSON.stringify(sched.stateDict())) as ReturnType<LRScheduler["stateDict"]>;
  expect(schedState).toEqual(sched.stateDict());
  const straight: number[][] = [];
  for (let t = 0; t < after; t++) {
    sched.step();
    straight.push(sched.getLastLr());
  }
  const [opt2, sched2] = build();
  opt2.loadStateDict(optState);
  sched2.loadStateDict(schedState);
  expect(sched2.lastEpoch).toBe(before);
  expect(opt2.paramGroups.map((g) => g.lr)).toEqual(optState.paramGroups.map((g) => g.lr));
  const resumed: number[][] = [];
  for (let t = 0; t < after; t++) {
    sched2.step();
    resumed.push(sched2.getLastLr());
    expect(opt2.paramGroups.map((g) => g.lr)).toEqual(sched2.getLastLr());
  }
  expect(resumed).toEqual(straight);
}
