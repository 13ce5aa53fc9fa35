import type { Tensor } from "@pico/core";
import { adaptiveAvgPool2d } from "../functional/adaptive-avg-pool2d.js";
import { adaptiveOutputSize, type AdaptiveSize } from "../functional/adaptive-pool-size.js";
import { Module } from "../module.js";

/**
 * Mean over adaptive windows, so that the output has a fixed size whatever the input's, as
 * torch.nn.AdaptiveAvgPool2d: window i covers [floor(i·H / oH), ceil((i + 1)·H / oH)), likewise for W.
 *
 * Shape: [N, C, H, W] (or [C, H, W]) → [N, C, oH, oW]; `outputSize` is one number or [oH, oW], null keeping that input size.
 *
 * @example new AdaptiveAvgPool2d(1).forward(Tensor.randn([8, 64, 7, 7])) // [8, 64, 1, 1], global average pooling
 */
export class AdaptiveAvgPool2d extends Module {
  static override keepsNoReferences = true;
  readonly outputSize: AdaptiveSize;

  constructor(outputSize: AdaptiveSize) {
    super();
    adaptiveOutputSize("AdaptiveAvgPool2d", outputSize, [1, 1, 1, 1]);
    this.outputSize = typeof outputSize === "number" ? outputSize : [outputSize[0], outputSize[1]];
  }

  forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }

  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}
