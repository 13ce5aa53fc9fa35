import type { Tensor } from "@pico/core";
import { BatchNormBase } from "./batch-norm.js";
import { checkChannels } from "./check.js";

/**
 * Batch normalisation of [N, C] or [N, C, L] over the batch (and length) axes, per channel C.
 *
 * Shape: [N, C] or [N, C, L] → same. Options: eps 1e-5, momentum 0.1, affine true, trackRunningStats true.
 *
 * @example new BatchNorm1d(120).forward(Tensor.randn([64, 120]))
 */
export class BatchNorm1d extends BatchNormBase {
  static override keepsNoReferences = true;
  protected checkInput(input: Tensor): void {
    const c = this.numFeatures;
    checkChannels("BatchNorm1d", input, c, [2, 3], () => 1, `[N, ${c}] or [N, ${c}, L]`);
  }
}
