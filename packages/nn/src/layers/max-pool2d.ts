import { Tensor } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { MAX_POOL2D_OPTIONS, MaxPool2dFunction, maxPool2d } from "../functional/max-pool2d.js";
import { maxPool2dWithIndices } from "../functional/max-unpool2d.js";
import { pair, type IntPair } from "../functional/pair.js";
import { Module } from "../module.js";
import { checkBoolean, showPair } from "./check.js";
import { checkPoolInput, type PoolLayerOptions } from "./pool.js";

export interface MaxPool2dLayerOptions extends PoolLayerOptions {
  /** Spacing between the taps of a window. Default 1. */
  dilation?: IntPair;
}

/**
 * Max over kH × kW windows of each channel; the gradient goes to the first maximum of each window
 * (the last NaN if there is one, as PyTorch).
 *
 * Shape: [N, C, H, W] (or [C, H, W]) → [N, C, Hout, Wout], Hout = floor((H + 2·padding − dilation·(kH − 1) − 1) / stride) + 1
 * (ceil with ceilMode, less one if the last window would start past the input and its left padding).
 * The stride defaults to the kernel size. PyTorch's `return_indices=True` is `forwardWithIndices`, whose
 * indices (per plane, as torch's) feed MaxUnpool2d.
 *
 * @example new MaxPool2d(2).forward(Tensor.randn([64, 8, 24, 24])) // [64, 8, 12, 12]
 */
export class MaxPool2d extends Module {
  static override keepsNoReferences = true;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceilMode: boolean;

  constructor(kernelSize: IntPair, options: MaxPool2dLayerOptions = {}) {
    super();
    checkOptions("MaxPool2d", options, MAX_POOL2D_OPTIONS);
    this.kernelSize = pair("MaxPool2d", "kernelSize", kernelSize, 1);
    this.stride = pair("MaxPool2d", "stride", options.stride ?? this.kernelSize, 1);
    this.padding = pair("MaxPool2d", "padding", options.padding ?? 0, 0);
    this.dilation = pair("MaxPool2d", "dilation", options.dilation ?? 1, 1);
    this.ceilMode = checkBoolean("MaxPool2d", "ceilMode", options.ceilMode ?? false);
  }

  forward(input: Tensor): Tensor {
    checkPoolInput("MaxPool2d", input, this.kernelSize, this.padding, this.dilation);
    return maxPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }

  /**
   * forward that, with `handOffGradInput` and a batched input, may leave its input gradient in the kernel
   * module for the backward of the one Function that made `input` (MaxPool2dFunction's handOffGradInput):
   * for a caller that knows nothing else reads `input`. Only the fusion patterns call it.
   * @internal
   */
  forwardHandingOffGradInput(input: Tensor, handOffGradInput: boolean): Tensor {
    if (!handOffGradInput || !(input instanceof Tensor) || input.ndim !== 4) return this.forward(input);
    checkPoolInput("MaxPool2d", input, this.kernelSize, this.padding, this.dilation);
    return MaxPool2dFunction.apply(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode }, true);
  }

  /** The pooled output and, for each output, the flat index in its input plane of the maximum it took. */
  forwardWithIndices(input: Tensor): [Tensor, Tensor] {
    checkPoolInput("MaxPool2d", input, this.kernelSize, this.padding, this.dilation);
    return maxPool2dWithIndices(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }

  override extraRepr(): string {
    let s = `kernelSize=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}, padding=${showPair(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${showPair(this.dilation)}`;
    if (this.ceilMode) s += ", ceilMode=true";
    return s;
  }
}
