import { ArgumentError, type Tensor } from "@pico/core";
import { AVG_POOL2D_OPTIONS, avgPool2d } from "../functional/avg-pool2d.js";
import { checkOptions } from "../functional/check.js";
import { pair, type IntPair } from "../functional/pair.js";
import { Module } from "../module.js";
import { checkBoolean, showPair } from "./check.js";
import { checkPoolInput, type PoolLayerOptions } from "./pool.js";

export interface AvgPool2dLayerOptions extends PoolLayerOptions {
  /** Count the padding in each window's divisor (true, PyTorch's default); false divides by the pixels inside the input. */
  countIncludePad?: boolean;
  /** Divide every window's sum by this non-zero integer instead. Default none. */
  divisorOverride?: number | null;
}

/**
 * Mean over kH × kW windows of each channel.
 *
 * Shape: [N, C, H, W] (or [C, H, W]) → [N, C, Hout, Wout], Hout = floor((H + 2·padding − kH) / stride) + 1
 * (ceil with ceilMode, less one if the last window would start past the input and its left padding).
 * The stride defaults to the kernel size; a window divides by its size within the padded input unless
 * countIncludePad is false (then by its pixels inside the input) or divisorOverride is given.
 *
 * @example new AvgPool2d(2).forward(Tensor.randn([64, 8, 24, 24])) // [64, 8, 12, 12]
 */
export class AvgPool2d extends Module {
  static override keepsNoReferences = true;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;

  constructor(kernelSize: IntPair, options: AvgPool2dLayerOptions = {}) {
    super();
    checkOptions("AvgPool2d", options, AVG_POOL2D_OPTIONS);
    this.kernelSize = pair("AvgPool2d", "kernelSize", kernelSize, 1);
    this.stride = pair("AvgPool2d", "stride", options.stride ?? this.kernelSize, 1);
    this.padding = pair("AvgPool2d", "padding", options.padding ?? 0, 0);
    this.ceilMode = checkBoolean("AvgPool2d", "ceilMode", options.ceilMode ?? false);
    this.countIncludePad = checkBoolean("AvgPool2d", "countIncludePad", options.countIncludePad ?? true);
    const divisorOverride = options.divisorOverride ?? null;
    if (divisorOverride !== null && !(Number.isInteger(divisorOverride) && divisorOverride !== 0)) {
      throw new ArgumentError(`AvgPool2d: divisorOverride must be a non-zero integer or null, but got ${String(divisorOverride)}`);
    }
    this.divisorOverride = divisorOverride;
  }

  forward(input: Tensor): Tensor {
    checkPoolInput("AvgPool2d", input, this.kernelSize, this.padding);
    return avgPool2d(input, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }

  override extraRepr(): string {
    let s = `kernelSize=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}, padding=${showPair(this.padding)}`;
    if (this.ceilMode) s += ", ceilMode=true";
    if (!this.countIncludePad) s += ", countIncludePad=false";
    if (this.divisorOverride !== null) s += `, divisorOverride=${this.divisorOverride}`;
    return s;
  }
}
