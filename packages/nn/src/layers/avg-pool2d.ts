import type { Tensor } from "@pico/core";
import { avgPool2d } from "../functional/avg-pool2d.js";
import { pair, type IntPair } from "../functional/pair.js";
import { Module } from "../module.js";
import { showPair } from "./check.js";
import { checkPoolInput, type PoolLayerOptions } from "./pool.js";

/**
 * Mean over kH × kW windows of each channel.
 *
 * Shape: [N, C, H, W] (or [C, H, W]) → [N, C, Hout, Wout], Hout = floor((H + 2·padding − kH) / stride) + 1.
 * The stride defaults to the kernel size; windows over padding divide by kH·kW unless countIncludePad is false.
 *
 * @example new AvgPool2d(2).forward(Tensor.randn([64, 8, 24, 24])) // [64, 8, 12, 12]
 */
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly countIncludePad: boolean;

  constructor(kernelSize: IntPair, options: PoolLayerOptions & { countIncludePad?: boolean } = {}) {
    super();
    this.kernelSize = pair("AvgPool2d", "kernelSize", kernelSize, 1);
    this.stride = pair("AvgPool2d", "stride", options.stride ?? this.kernelSize, 1);
    this.padding = pair("AvgPool2d", "padding", options.padding ?? 0, 0);
    this.countIncludePad = options.countIncludePad ?? true;
  }

  forward(input: Tensor): Tensor {
    checkPoolInput("AvgPool2d", input, this.kernelSize, this.padding);
    return avgPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding, countIncludePad: this.countIncludePad });
  }

  override extraRepr(): string {
    return `kernelSize=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}, padding=${showPair(this.padding)}`;
  }
}
