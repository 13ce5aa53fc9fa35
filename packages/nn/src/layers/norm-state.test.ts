import { describe, expect, it } from "vitest";
import { BatchNorm2d } from "./batch-norm2d.js";
import { InstanceNorm2d } from "./instance-norm2d.js";

describe("createNormState", () => {
  it("gives γ = 1, β = 0 and registered running statistics 0, 1, 0 batches, as torch", () => {
    for (const layer of [new BatchNorm2d(3), new InstanceNorm2d(3, { affine: true, trackRunningStats: true })]) {
      expect(Object.keys(layer.stateDict())).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
      expect(Array.from(layer.weight!.data.data.slice(0, 3))).toEqual([1, 1, 1]);
      expect(Array.from(layer.bias!.data.data.slice(0, 3))).toEqual([0, 0, 0]);
      expect(Array.from(layer.running_mean!.data.data.slice(0, 3))).toEqual([0, 0, 0]);
      expect(Array.from(layer.running_var!.data.data.slice(0, 3))).toEqual([1, 1, 1]);
      expect(layer.num_batches_tracked!.item()).toBe(0);
      expect(layer.parameters()).toEqual([layer.weight, layer.bias]);
    }
  });

  it("holds nothing that affine or trackRunningStats turn off", () => {
    const layer = new InstanceNorm2d(3);
    expect([layer.weight, layer.bias, layer.running_mean, layer.running_var, layer.num_batches_tracked]).toEqual([null, null, null, null, null]);
    expect(Object.keys(layer.stateDict())).toEqual([]);
    const frozen = new BatchNorm2d(2, { affine: false, trackRunningStats: false });
    expect(frozen.parameters()).toEqual([]);
    expect(Object.keys(frozen.stateDict())).toEqual([]);
  });
});
