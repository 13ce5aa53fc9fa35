import type { Tensor } from "@pico/core";
import { adaptiveMaxPool2d } from "../functional/adaptive-max-pool2d.js";
import { adaptiveOutputSize, type AdaptiveSize } from "../functional/adaptive-pool-size.js";
import { Module } from "../module.js";

/**
 * Max over adaptive windows, so that the output has a fixed size whatever the input's, as
 * torch.nn.AdaptiveMaxPool2d: window i covers [floor(i·H / oH), ceil((i + 1)·H / oH)), likewise for W.
 *
 * Shape: [N, C, H, W] (or [C, H, W]) → [N, C, oH, oW]; `outputSize` is one number or [oH, oW], null keeping that input size.
 *
 * @example new AdaptiveMaxPool2d(1).forward(Tensor.randn([8, 64, 7, 7])) // [8, 64, 1, 1]
 */
export class AdaptiveMaxPool2d extends Module {
  static override keepsNoReferences = true;
  readonly outputSize: AdaptiveSize;

  constructor(outputSize: AdaptiveSize) {
    super();
    adaptiveOutputSize("AdaptiveMaxPool2d", outputSize, [1, 1, 1, 1]);
    this.outputSize = typeof outputSize === "number" ? outputSize : [outputSize[0], outputSize[1]];
  }

  forward(input: Tensor): Tensor {
    return adaptiveMaxPool2d(input, this.outputSize);
  }

  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}
