import { describe, expect, it } from "vitest";
import { expectLrs, expectResumable, lrTrace, sgdWithGroups } from "../test-utils/schedule.js";
import { StepLR } from "./step-lr.js";

describe("StepLR", () => {
  it("stepSize=3 gamma=0.1: lr(t) = base · 0.1^floor(t / 3), per group", () => {
    const opt = sgdWithGroups(0.5, 2);
    const trace = lrTrace(new StepLR(opt, { stepSize: 3, gamma: 0.1 }), opt, 9);
    expectLrs(
      trace,
      trace.map((_, t) => [0.5 * 0.1 ** Math.floor(t / 3), 2 * 0.1 ** Math.floor(t / 3)]),
    );
    expect(trace.map((r) => r[1])).toEqual([2, 2, 2, 2 * 0.1, 2 * 0.1, 2 * 0.1, 2 * 0.1 ** 2, 2 * 0.1 ** 2, 2 * 0.1 ** 2, 2 * 0.1 ** 3]);
  });

  it("gamma defaults to 0.1", () => {
    const opt = sgdWithGroups(1);
    expectLrs(lrTrace(new StepLR(opt, { stepSize: 2 }), opt, 4), [[1], [1], [0.1], [0.1], [0.01]]);
  });

  it("state dict round trip continues identically", () => {
    expectResumable(() => {
      const opt = sgdWithGroups(0.3, 0.7);
      return [opt, new StepLR(opt, { stepSize: 2, gamma: 0.5 })];
    }, 5, 5);
  });

  it("validates its options", () => {
    const opt = sgdWithGroups(1);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow("StepLR: stepSize must be an integer > 0, but got 0");
    expect(() => new StepLR(opt, { stepSize: 1.5 })).toThrow("StepLR: stepSize must be an integer > 0, but got 1.5");
    expect(() => new StepLR(opt, { stepSize: 2, gamma: -1 })).toThrow("StepLR: gamma must be a finite number > 0, but got -1");
    expect(() => new StepLR({} as never, { stepSize: 2 })).toThrow("StepLR: optimizer must be an Optimizer");
  });
});
