import { tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Dropout } from "../layers/dropout.js";
import { InstanceNorm2d } from "../layers/instance-norm2d.js";
import { Linear } from "../layers/linear.js";
import { Sequential } from "../layers/sequential.js";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { MSELoss } from "../losses/mse-loss.js";
import { checkIgnoredTargets, checkShardable, lossReduction } from "./rules.js";
import { shardBounds } from "./shards.js";

describe("data-parallel rules", () => {
  it("cuts a batch into contiguous shards differing by at most one row, the larger last", () => {
    expect(shardBounds(64, 2)).toEqual([0, 32, 64]);
    expect(shardBounds(15, 2)).toEqual([0, 7, 15]);
    expect(shardBounds(10, 4)).toEqual([0, 2, 4, 7, 10]);
    expect(shardBounds(3, 3)).toEqual([0, 1, 2, 3]);
  });

  it("refuses Dropout and InstanceNorm with running statistics in training mode, allows them in evaluation mode, and BatchNorm in both", () => {
    const model = new Sequential(new Linear(4, 4), new Dropout(0.5));
    expect(() => checkShardable("DataParallel.forwardBackward", model)).toThrow(
      'DataParallel.forwardBackward: Dropout "1" in training mode draws its masks from each thread\'s own random stream, so the step would differ from one process\'s',
    );
    model.eval();
    expect(() => checkShardable("op", model)).not.toThrow();
    const norm = new Sequential(new InstanceNorm2d(3, { trackRunningStats: true }));
    expect(() => checkShardable("op", norm)).toThrow('op: InstanceNorm2d "0" in training mode updates its running statistics from its batch');
    expect(() => checkShardable("op", new Sequential(new InstanceNorm2d(3)))).not.toThrow();
    // BatchNorm's batch statistics are synchronized across the replicas: allowed in every mode.
    const bn = new BatchNorm2d(3, { trackRunningStats: false });
    expect(() => checkShardable("op", new Sequential(bn, new BatchNorm2d(3)))).not.toThrow();
    bn.eval();
    expect(() => checkShardable("op", new Sequential(bn))).not.toThrow();
  });

  it("takes the loss's reduction, refuses class weights, reduction none and conflicting options", () => {
    expect(lossReduction("op", new CrossEntropyLoss(), undefined)).toBe("mean");
    expect(lossReduction("op", new MSELoss({ reduction: "sum" }), undefined)).toBe("sum");
    expect(lossReduction("op", () => null, "sum")).toBe("sum");
    expect(() => lossReduction("op", new MSELoss({ reduction: "none" }), undefined)).toThrow('op: the loss must reduce each shard to a scalar ("mean" or "sum"), but its reduction is "none"');
    expect(() => lossReduction("op", new CrossEntropyLoss({ weight: tensor([1, 2]) }), undefined)).toThrow("op: a loss with class weights averages over each shard's sum of weights");
    expect(lossReduction("op", new CrossEntropyLoss({ weight: tensor([1, 2]), reduction: "sum" }), undefined)).toBe("sum");
    expect(() => lossReduction("op", new CrossEntropyLoss(), "sum")).toThrow('op: lossReduction is "sum" but the loss\'s own reduction is "mean"');
  });

  it("refuses targets holding ignoreIndex under a mean", () => {
    const loss = new CrossEntropyLoss();
    expect(() => checkIgnoredTargets("op", loss, "mean", tensor([1, -100, 2]))).toThrow("op: the target holds ignoreIndex -100");
    expect(() => checkIgnoredTargets("op", loss, "mean", tensor([1, 0, 2]))).not.toThrow();
    expect(() => checkIgnoredTargets("op", loss, "sum", tensor([1, -100, 2]))).not.toThrow();
  });
});
