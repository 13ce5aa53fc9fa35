import type { Tensor } from "@pico/core";
import { BatchNormBase } from "./batch-norm.js";
import { checkChannels } from "./check.js";

/**
 * Batch normalisation of [N, C, H, W] over the batch and spatial axes, per channel C.
 *
 * Shape: [N, C, H, W] → same. Options: eps 1e-5, momentum 0.1, affine true, trackRunningStats true.
 *
 * @example new BatchNorm2d(8).forward(Tensor.randn([64, 8, 24, 24]))
 */
export class BatchNorm2d extends BatchNormBase {
  static override keepsNoReferences = true;
  protected checkInput(input: Tensor): void {
    const c = this.numFeatures;
    checkChannels("BatchNorm2d", input, c, [4], () => 1, `[N, ${c}, H, W]`);
  }
}
