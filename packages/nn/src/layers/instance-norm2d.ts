import type { DType, Tensor } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { instanceNorm } from "../functional/instance-norm.js";
import { Module } from "../module.js";
import type { Parameter } from "../parameter.js";
import { checkChannels, checkPositiveInteger } from "./check.js";
import { checkNormEps, checkNormMomentum } from "./norm-options.js";
import { createNormState } from "./norm-state.js";

export interface InstanceNormLayerOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Weight of each batch in the running statistics. Default 0.1. */
  momentum?: number;
  /** Learn a per-channel scale and shift. Default false (as torch). */
  affine?: boolean;
  /** Keep running mean and variance and use them in evaluation. Default false (as torch). */
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * Normalises each channel of each image over H and W with its own mean and biased variance, as
 * torch.nn.InstanceNorm2d (style transfer, GANs). Shape: [N, C, H, W] or [C, H, W] → same.
 * State-dict keys as torch: weight, bias (affine), running_mean, running_var, num_batches_tracked (tracking).
 */
export class InstanceNorm2d extends Module {
  static override keepsNoReferences = true;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Parameter | null;
  bias: Parameter | null;
  running_mean: Tensor | null;
  running_var: Tensor | null;
  num_batches_tracked: Tensor | null;

  constructor(numFeatures: number, options: InstanceNormLayerOptions = {}) {
    super();
    const layer = "InstanceNorm2d";
    checkOptions(layer, options, ["eps", "momentum", "affine", "trackRunningStats", "dtype"]);
    checkPositiveInteger(layer, "numFeatures", numFeatures);
    const eps = options.eps ?? 1e-5;
    const momentum = options.momentum === undefined ? 0.1 : options.momentum;
    checkNormEps(layer, eps);
    checkNormMomentum(layer, momentum, false);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = options.affine ?? false;
    this.trackRunningStats = options.trackRunningStats ?? false;
    ({ weight: this.weight, bias: this.bias, running_mean: this.running_mean, running_var: this.running_var, num_batches_tracked: this.num_batches_tracked } =
      createNormState(this, numFeatures, this.affine, this.trackRunningStats, options.dtype ?? "float32"));
  }

  forward(input: Tensor): Tensor {
    const c = this.numFeatures;
    checkChannels("InstanceNorm2d", input, c, [3, 4], (rank) => rank - 3, `[N, ${c}, H, W]`);
    const batched = input.ndim === 4 ? input : input.unsqueeze(0);
    const y = instanceNorm(batched, {
      runningMean: this.running_mean,
      runningVar: this.running_var,
      weight: this.weight,
      bias: this.bias,
      useInputStats: this.training || !this.trackRunningStats,
      momentum: this.momentum,
      eps: this.eps,
    });
    return input.ndim === 4 ? y : y.squeeze(0);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}
