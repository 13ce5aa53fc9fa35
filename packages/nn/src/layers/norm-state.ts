import { Tensor, type DType } from "@pico/core";
import type { Module } from "../module.js";
import { Parameter } from "../parameter.js";

/** A per-channel normalisation layer's learned scale and shift and its running statistics, under torch's names. */
export interface NormState {
  weight: Parameter | null;
  bias: Parameter | null;
  running_mean: Tensor | null;
  running_var: Tensor | null;
  num_batches_tracked: Tensor | null;
}

/**
 * The state of BatchNorm and InstanceNorm as torch creates it: γ = 1 and β = 0 when `affine`, and when
 * `trackRunningStats` a running mean of 0, a running variance of 1 and a batch count of 0, which are
 * registered as `module`'s buffers (the layer assigns the returned tensors to its fields of the same names).
 */
export function createNormState(module: Module, numFeatures: number, affine: boolean, trackRunningStats: boolean, dtype: DType): NormState {
  const track = trackRunningStats;
  return {
    weight: affine ? new Parameter(Tensor.ones([numFeatures], { dtype })) : null,
    bias: affine ? new Parameter(Tensor.zeros([numFeatures], { dtype })) : null,
    running_mean: module.registerBuffer("running_mean", track ? Tensor.zeros([numFeatures], { dtype }) : null),
    running_var: module.registerBuffer("running_var", track ? Tensor.ones([numFeatures], { dtype }) : null),
    num_batches_tracked: module.registerBuffer("num_batches_tracked", track ? Tensor.zeros([], { dtype }) : null),
  };
}
