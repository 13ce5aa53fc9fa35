import { ArgumentError, Tensor, type DType, type Generator } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { conv1d } from "../functional/conv1d.js";
import { pad } from "../functional/pad.js";
import { kaimingUniform, uniform } from "../init.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import type { Conv2dPaddingMode } from "./conv2d.js";
import { checkConvChannels } from "./conv-options.js";
import { checkChannels, checkPositiveInteger } from "./check.js";

export interface Conv1dLayerOptions {
  /** Default 1. */
  stride?: number;
  /** Padding on each end, or "valid" / "same" (stride 1). Default 0. */
  padding?: number | "same" | "valid";
  /** What the padding holds: "zeros" (default), "reflect", "replicate" or "circular", as torch's padding_mode. */
  paddingMode?: Conv2dPaddingMode;
  /** Default 1. */
  dilation?: number;
  /** Default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  dtype?: DType;
  generator?: Generator;
}

/**
 * 1-D convolution over sequences, as torch.nn.Conv1d (the conv2d kernels on a unit height).
 *
 * Shape: [N, inChannels, L] (or [inChannels, L]) → [N, outChannels, Lout] with
 * Lout = floor((L + 2·padding − dilation·(k − 1) − 1) / stride) + 1; weight [outChannels, inChannels / groups, k]
 * (torch's layout and key), bias [outChannels]; torch's initialisation.
 */
export class Conv1d extends Module {
  static override keepsNoReferences = true;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | "same";
  readonly paddingMode: Conv2dPaddingMode;
  readonly dilation: number;
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Conv1dLayerOptions = {}) {
    super();
    const layer = "Conv1d";
    checkOptions(layer, options, ["stride", "padding", "paddingMode", "dilation", "groups", "bias", "dtype", "generator"]);
    const groups = checkConvChannels(layer, inChannels, outChannels, options.groups);
    checkPositiveInteger(layer, "kernelSize", kernelSize);
    const stride = options.stride ?? 1;
    const dilation = options.dilation ?? 1;
    checkPositiveInteger(layer, "stride", stride);
    checkPositiveInteger(layer, "dilation", dilation);
    const padding = options.padding ?? 0;
    if (padding === "same" && stride !== 1) throw new ArgumentError(`${layer}: padding "same" needs stride 1 (a strided output cannot keep the input's size), but got stride ${stride}`);
    if (typeof padding === "number" && !(Number.isInteger(padding) && padding >= 0)) throw new ArgumentError(`${layer}: padding must be an integer >= 0, "same" or "valid", but got ${padding}`);
    if (typeof padding !== "number" && padding !== "same" && padding !== "valid") throw new ArgumentError(`${layer}: padding must be an integer >= 0, "same" or "valid", but got ${JSON.stringify(padding)}`);
    const paddingMode = options.paddingMode ?? "zeros";
    if (!["zeros", "reflect", "replicate", "circular"].includes(paddingMode)) {
      throw new ArgumentError(`${layer}: paddingMode must be "zeros", "reflect", "replicate" or "circular", but got ${JSON.stringify(paddingMode)}`);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = stride;
    this.dilation = dilation;
    this.groups = groups;
    this.paddingMode = paddingMode;
    this.padding = padding === "valid" ? 0 : padding;
    const dtype = options.dtype ?? "float32";
    this.weight = new Parameter(Tensor.zeros([outChannels, inChannels / groups, kernelSize], { dtype }));
    this.bias = options.bias === false ? null : new Parameter(Tensor.zeros([outChannels], { dtype }));
    this.resetParameters({ generator: options.generator });
  }

  /** kaiming_uniform(a = √5) for the weight, U(±1/√fanIn) for the bias, as torch.nn.Conv1d. */
  resetParameters(options: { generator?: Generator | undefined } = {}): void {
    kaimingUniform(this.weight, { a: Math.sqrt(5), generator: options.generator });
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt((this.inChannels / this.groups) * this.kernelSize);
      uniform(this.bias, -bound, bound, { generator: options.generator });
    }
  }

  forward(input: Tensor): Tensor {
    const c = this.inChannels;
    checkChannels("Conv1d", input, c, [2, 3], (rank) => rank - 2, `[N, ${c}, L]`);
    const options = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode === "zeros") return conv1d(input, this.weight, this.bias, { ...options, padding: this.padding });
    const total = this.dilation * (this.kernelSize - 1);
    const [before, after] = this.padding === "same" ? [Math.floor(total / 2), total - Math.floor(total / 2)] : [this.padding, this.padding];
    const batched = input.ndim === 3 ? input : input.unsqueeze(0);
    const y = conv1d(pad(batched, [before, after], { mode: this.paddingMode }), this.weight, this.bias, { ...options, padding: 0 });
    return input.ndim === 3 ? y : y.squeeze(0);
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}, stride=${this.stride}`;
    if (this.padding !== 0) s += `, padding=${this.padding}`;
    if (this.dilation !== 1) s += `, dilation=${this.dilation}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ", bias=false";
    if (this.paddingMode !== "zeros") s += `, paddingMode=${this.paddingMode}`;
    return s;
  }
}
