import { ArgumentError, ShapeError, Tensor, formatShape, type DType, type Generator } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { conv2d, conv2dHandingOffGradInput, samePadding } from "../functional/conv2d.js";
import { pad } from "../functional/pad.js";
import { pair, type IntPair } from "../functional/pair.js";
import { kaimingUniform, uniform } from "../init.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkChannels, showPair } from "./check.js";
import { checkConvChannels } from "./conv-options.js";

export type Conv2dPaddingMode = "zeros" | "reflect" | "replicate" | "circular";

export interface Conv2dLayerOptions {
  /** Default 1. */
  stride?: IntPair;
  /**
   * Zero padding on each side, or "valid" (none) or "same" (output as large as the input, stride 1
   * only; when the dilated kernel is even the extra row/column goes at the bottom/right, as PyTorch).
   * Default 0.
   */
  padding?: IntPair | "same" | "valid";
  /**
   * What the padding holds: "zeros" (default), or the input "reflect"ed at its edges (edge not
   * repeated), "replicate"d (edge repeated) or wrapped around ("circular"), as torch.nn.Conv2d.
   */
  paddingMode?: Conv2dPaddingMode;
  /** Spacing between kernel taps. Default 1. */
  dilation?: IntPair;
  /** Channels are split into this many independent groups. Default 1. */
  groups?: number;
  /** Learn an additive bias per output channel. Default true. */
  bias?: boolean;
  dtype?: DType;
  /** Source of the initial weights; default the global default generator. */
  generator?: Generator;
}

/**
 * 2-D convolution (cross-correlation, as in every framework) over [N, C, H, W].
 *
 * Shape: input [N, inChannels, H, W] (or [inChannels, H, W]) → output [N, outChannels, Hout, Wout] with
 * Hout = floor((H + 2·padding − dilation·(kH − 1) − 1) / stride) + 1, and Wout likewise;
 * weight [outChannels, inChannels / groups, kH, kW], bias [outChannels].
 * Initialised as PyTorch: kaiming_uniform(a = sqrt(5)), i.e. U(±1/sqrt(fanIn)) with fanIn = inChannels / groups · kH · kW.
 *
 * @example new Conv2d(1, 8, 5).forward(Tensor.randn([64, 1, 28, 28])) // [64, 8, 24, 24]
 */
export class Conv2d extends Module {
  static override keepsNoReferences = true;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | "same";
  readonly paddingMode: Conv2dPaddingMode;
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: IntPair, options: Conv2dLayerOptions = {}) {
    super();
    const layer = "Conv2d";
    checkOptions(layer, options, ["stride", "padding", "paddingMode", "dilation", "groups", "bias", "dtype", "generator"]);
    const groups = checkConvChannels(layer, inChannels, outChannels, options.groups);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(layer, "kernelSize", kernelSize, 1);
    this.stride = pair(layer, "stride", options.stride ?? 1, 1);
    this.dilation = pair(layer, "dilation", options.dilation ?? 1, 1);
    const padding = options.padding ?? 0;
    if (padding === "same" && (this.stride[0] !== 1 || this.stride[1] !== 1)) {
      throw new ArgumentError(`${layer}: padding "same" needs stride 1 (a strided output cannot keep the input's size), but got stride ${showPair(this.stride)}`);
    }
    this.padding = padding === "same" ? "same" : pair(layer, "padding", padding === "valid" ? 0 : padding, 0);
    this.groups = groups;
    const paddingMode = options.paddingMode ?? "zeros";
    if (!["zeros", "reflect", "replicate", "circular"].includes(paddingMode)) {
      throw new ArgumentError(`${layer}: paddingMode must be "zeros", "reflect", "replicate" or "circular", but got ${JSON.stringify(paddingMode)}`);
    }
    this.paddingMode = paddingMode;
    const dtype = options.dtype ?? "float32";
    this.weight = new Parameter(Tensor.zeros([outChannels, inChannels / groups, ...this.kernelSize], { dtype }));
    this.bias = options.bias === false ? null : new Parameter(Tensor.zeros([outChannels], { dtype }));
    this.resetParameters({ generator: options.generator });
  }

  /** kaiming_uniform(a = sqrt(5)) for the weight, U(±1/sqrt(fanIn)) for the bias, as torch.nn.Conv2d. */
  resetParameters(options: { generator?: Generator | undefined } = {}): void {
    kaimingUniform(this.weight, { a: Math.sqrt(5), generator: options.generator });
    if (this.bias !== null) {
      const fanIn = (this.inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1];
      const bound = 1 / Math.sqrt(fanIn);
      uniform(this.bias, -bound, bound, { generator: options.generator });
    }
  }

  forward(input: Tensor): Tensor {
    return this.convolve(input, false);
  }

  /**
   * forward that, with `handOffGradInput`, may leave its input gradient in the kernel module for the
   * backward of the one Function that made `input` (conv2dHandingOffGradInput): for a caller that knows
   * nothing else reads `input`. Only the fusion patterns call it.
   * @internal
   */
  forwardHandingOffGradInput(input: Tensor, handOffGradInput: boolean): Tensor {
    return this.convolve(input, handOffGradInput);
  }

  private convolve(input: Tensor, handOffGradInput: boolean): Tensor {
    const c = this.inChannels;
    checkChannels("Conv2d", input, c, [3, 4], (rank) => rank - 3, `[N, ${c}, H, W]`);
    const options = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode !== "zeros") {
      // torch pads the input in the mode first, then convolves without padding.
      const [top, bottom] = this.padding === "same" ? samePadding(this.kernelSize[0], this.dilation[0]) : [this.padding[0], this.padding[0]];
      const [left, right] = this.padding === "same" ? samePadding(this.kernelSize[1], this.dilation[1]) : [this.padding[1], this.padding[1]];
      const mode = this.paddingMode;
      return conv2d(pad(input, [left, right, top, bottom], { mode }), this.weight, this.bias, { ...options, padding: 0 });
    }
    const convolution = handOffGradInput ? conv2dHandingOffGradInput : conv2d;
    if (this.padding === "same") return convolution(input, this.weight, this.bias, { ...options, padding: "same" });
    const kh = this.dilation[0] * (this.kernelSize[0] - 1) + 1;
    const kw = this.dilation[1] * (this.kernelSize[1] - 1) + 1;
    const h = input.shape[input.ndim - 2]!;
    const w = input.shape[input.ndim - 1]!;
    const [ph, pw] = this.padding;
    if (h + 2 * ph < kh || w + 2 * pw < kw) {
      throw new ShapeError(
        `Conv2d: input of height × width ${h} × ${w} (${h + 2 * ph} × ${w + 2 * pw} with padding) is smaller than the ` +
          `kernel ${kh} × ${kw} (dilated), in input of shape ${formatShape(input.shape)}`,
      );
    }
    return convolution(input, this.weight, this.bias, { ...options, padding: this.padding });
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}`;
    if (this.padding === "same") s += ", padding=same";
    else if (this.padding[0] !== 0 || this.padding[1] !== 0) s += `, padding=${showPair(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${showPair(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ", bias=false";
    if (this.paddingMode !== "zeros") s += `, paddingMode=${this.paddingMode}`;
    return s;
  }
}
