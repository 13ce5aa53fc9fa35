import { describe, expect, it } from "vitest";
import { expectLrs, expectResumable, lrTrace, sgdWithGroups } from "../test-utils/schedule.js";
import { MultiStepLR } from "./multi-step-lr.js";

describe("MultiStepLR", () => {
  it("milestones=[2, 5] gamma=0.5: lr(t) = base · 0.5^(milestones <= t)", () => {
    const opt = sgdWithGroups(0.8);
    const passed = (t: number): number => (t >= 2 ? 1 : 0) + (t >= 5 ? 1 : 0);
    const trace = lrTrace(new MultiStepLR(opt, { milestones: [5, 2], gamma: 0.5 }), opt, 7);
    expectLrs(trace, trace.map((_, t) => [0.8 * 0.5 ** passed(t)]));
    expect(trace.map((r) => r[0])).toEqual([0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2]);
  });

  it("a repeated milestone applies gamma twice (as PyTorch's Counter does); gamma defaults to 0.1", () => {
    const opt = sgdWithGroups(1);
    expectLrs(lrTrace(new MultiStepLR(opt, { milestones: [1, 1] }), opt, 2), [[1], [0.01], [0.01]]);
  });

  it("state dict round trip continues identically", () => {
    expectResumable(() => {
      const opt = sgdWithGroups(0.3, 0.7);
      return [opt, new MultiStepLR(opt, { milestones: [1, 4, 6], gamma: 0.3 })];
    }, 3, 6);
  });

  it("validates its options", () => {
    const opt = sgdWithGroups(1);
    expect(() => new MultiStepLR(opt, { milestones: [1, -2] })).toThrow("MultiStepLR: milestones[1] must be an integer >= 0, but got -2");
    expect(() => new MultiStepLR(opt, { milestones: 3 as unknown as number[] })).toThrow("MultiStepLR: milestones must be an array of integers >= 0, but got 3");
    expect(() => new MultiStepLR(opt, { milestones: [1], gamma: 0 })).toThrow("MultiStepLR: gamma must be a finite number > 0, but got 0");
  });
});
