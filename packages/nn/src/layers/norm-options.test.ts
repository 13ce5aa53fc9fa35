import { describe, expect, it } from "vitest";
import { BatchNorm2d } from "./batch-norm2d.js";
import { GroupNorm } from "./group-norm.js";
import { InstanceNorm2d } from "./instance-norm2d.js";
import { LayerNorm } from "./layer-norm.js";
import { checkNormEps, checkNormMomentum } from "./norm-options.js";

describe("norm options", () => {
  it("eps must be a finite number > 0 in BatchNorm and InstanceNorm alike", () => {
    for (const eps of [0, -1e-5, Infinity, Number.NaN]) {
      expect(() => new BatchNorm2d(3, { eps })).toThrow(`BatchNorm2d: eps must be a finite number > 0, but got ${eps}`);
      expect(() => new InstanceNorm2d(3, { eps })).toThrow(`InstanceNorm2d: eps must be a finite number > 0, but got ${eps}`);
    }
    expect(() => checkNormEps("LayerX", "1e-5")).toThrow("LayerX: eps must be a finite number > 0, but got 1e-5");
    expect(new InstanceNorm2d(3, { eps: 1e-3 }).eps).toBe(1e-3);
    expect(() => new LayerNorm([4], { eps: Infinity })).toThrow("LayerNorm: eps must be a finite number > 0, but got Infinity");
    expect(() => new GroupNorm(2, 4, { eps: 0 })).toThrow("GroupNorm: eps must be a finite number > 0, but got 0");
  });

  it("momentum must be in [0, 1]; null (a cumulative average) only where the layer allows it", () => {
    expect(() => checkNormMomentum("BatchNorm2d", null, true)).not.toThrow();
    expect(() => checkNormMomentum("InstanceNorm2d", null, false)).toThrow("InstanceNorm2d: momentum must be in [0, 1], but got null");
    expect(() => new BatchNorm2d(3, { momentum: -0.1 })).toThrow("BatchNorm2d: momentum must be in [0, 1] or null, but got -0.1");
    expect(() => new InstanceNorm2d(3, { momentum: 1.5 })).toThrow("InstanceNorm2d: momentum must be in [0, 1], but got 1.5");
    expect(new BatchNorm2d(3, { momentum: null }).momentum).toBeNull();
    expect(new InstanceNorm2d(3, { momentum: 1 }).momentum).toBe(1);
    // A JavaScript caller's null is refused, not replaced by the default (torch 1.13 takes it and fails in forward).
    expect(() => new InstanceNorm2d(3, { momentum: null as unknown as number })).toThrow("InstanceNorm2d: momentum must be in [0, 1], but got null");
  });
});
