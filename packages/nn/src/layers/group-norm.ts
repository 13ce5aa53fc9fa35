import { ArgumentError, Tensor, type DType } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { groupNorm } from "../functional/group-norm.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkNormEps } from "./norm-options.js";
import { checkChannels, checkPositiveInteger } from "./check.js";

export interface GroupNormLayerOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Learn a per-channel scale (ones) and shift (zeros). Default true. */
  affine?: boolean;
  dtype?: DType;
}

/**
 * Splits the channels into `numGroups` groups and normalises each sample's group with its own mean and
 * biased variance, then scales and shifts per channel, as torch.nn.GroupNorm (Wu & He 2018). Independent
 * of the batch, so it works at batch size 1. Shape: [N, numChannels, *] → same; weight and bias [numChannels].
 */
export class GroupNorm extends Module {
  static override keepsNoReferences = true;
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(numGroups: number, numChannels: number, options: GroupNormLayerOptions = {}) {
    super();
    checkOptions("GroupNorm", options, ["eps", "affine", "dtype"]);
    checkPositiveInteger("GroupNorm", "numGroups", numGroups);
    checkPositiveInteger("GroupNorm", "numChannels", numChannels);
    if (numChannels % numGroups !== 0) throw new ArgumentError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    const eps = options.eps ?? 1e-5;
    checkNormEps("GroupNorm", eps);
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = eps;
    this.affine = options.affine ?? true;
    const dtype = options.dtype ?? "float32";
    this.weight = this.affine ? new Parameter(Tensor.ones([numChannels], { dtype })) : null;
    this.bias = this.affine ? new Parameter(Tensor.zeros([numChannels], { dtype })) : null;
  }

  forward(input: Tensor): Tensor {
    const c = this.numChannels;
    checkChannels("GroupNorm", input, c, [2, 3, 4, 5], () => 1, `[N, ${c}, *]`);
    return groupNorm(input, this.numGroups, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`;
  }
}
