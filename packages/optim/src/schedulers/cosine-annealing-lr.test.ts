import { describe, expect, it } from "vitest";
import { expectLrs, expectResumable, lrTrace, sgdWithGroups } from "../test-utils/schedule.js";
import { CosineAnnealingLR } from "./cosine-annealing-lr.js";

describe("CosineAnnealingLR", () => {
  it("tMax=8 etaMin=0.01: lr(t) = etaMin + (base - etaMin)(1 + cos(πt/8))/2, continuing past tMax", () => {
    const opt = sgdWithGroups(0.1, 1);
    const trace = lrTrace(new CosineAnnealingLR(opt, { tMax: 8, etaMin: 0.01 }), opt, 12);
    expectLrs(
      trace,
      trace.map((_, t) => [0.01 + (0.1 - 0.01) * (1 + Math.cos((Math.PI * t) / 8)) / 2, 0.01 + (1 - 0.01) * (1 + Math.cos((Math.PI * t) / 8)) / 2]),
    );
    expect(trace[0]).toEqual([0.1, 1]);
    expect(trace[4]![1]).toBeCloseTo((1 + 0.01) / 2, 15);
    expect(trace[8]![0]).toBeCloseTo(0.01, 15);
  });

  it("etaMin defaults to 0", () => {
    const opt = sgdWithGroups(2);
    expectLrs(lrTrace(new CosineAnnealingLR(opt, { tMax: 2 }), opt, 2), [[2], [1], [0]]);
  });

  it("state dict round trip continues identically", () => {
    expectResumable(() => {
      const opt = sgdWithGroups(0.3);
      return [opt, new CosineAnnealingLR(opt, { tMax: 10, etaMin: 0.001 })];
    }, 4, 6);
  });

  it("validates its options", () => {
    const opt = sgdWithGroups(1);
    expect(() => new CosineAnnealingLR(opt, { tMax: 0 })).toThrow("CosineAnnealingLR: tMax must be an integer > 0, but got 0");
    expect(() => new CosineAnnealingLR(opt, { tMax: 5, etaMin: -0.1 })).toThrow("CosineAnnealingLR: etaMin must be a finite number >= 0, but got -0.1");
    expect(() => new CosineAnnealingLR(opt, { tMax: 5, eta_min: 0 } as never)).toThrow(
      'CosineAnnealingLR: unknown option "eta_min"; the options are tMax, etaMin',
    );
  });
});
