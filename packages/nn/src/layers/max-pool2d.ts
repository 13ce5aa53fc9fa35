import type { Tensor } from "@pico/core";
import { maxPool2d } from "../functional/max-pool2d.js";
import { pair, type IntPair } from "../functional/pair.js";
import { Module } from "../module.js";
import { showPair } from "./check.js";
import { checkPoolInput, type PoolLayerOptions } from "./pool.js";

/**
 * Max over kH × kW windows of each channel; the gradient goes to the first maximum of each window.
 *
 * Shape: [N, C, H, W] (or [C, H, W]) → [N, C, Hout, Wout], Hout = floor((H + 2·padding − kH) / stride) + 1.
 * The stride defaults to the kernel size.
 *
 * @example new MaxPool2d(2).forward(Tensor.randn([64, 8, 24, 24])) // [64, 8, 12, 12]
 */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernelSize: IntPair, options: PoolLayerOptions = {}) {
    super();
    this.kernelSize = pair("MaxPool2d", "kernelSize", kernelSize, 1);
    this.stride = pair("MaxPool2d", "stride", options.stride ?? this.kernelSize, 1);
    this.padding = pair("MaxPool2d", "padding", options.padding ?? 0, 0);
  }

  forward(input: Tensor): Tensor {
    checkPoolInput("MaxPool2d", input, this.kernelSize, this.padding);
    return maxPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding });
  }

  override extraRepr(): string {
    return `kernelSize=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}, padding=${showPair(this.padding)}`;
  }
}
