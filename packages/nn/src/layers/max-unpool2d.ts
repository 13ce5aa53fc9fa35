import type { Tensor } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { maxUnpool2d } from "../functional/max-unpool2d.js";
import { pair, type IntPair } from "../functional/pair.js";
import { Module } from "../module.js";

/**
 * torch.nn.MaxUnpool2d: puts each value back at the index F.maxPool2dWithIndices gave, zeros elsewhere
 * (SegNet-style decoders). forward(input, indices, outputSize?).
 * Shape: [N, C, H, W] → [N, C, (H − 1)·stride − 2·padding + kH, likewise W], or outputSize.
 */
export class MaxUnpool2d extends Module<[Tensor, Tensor, (readonly [number, number])?], Tensor> {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernelSize: IntPair, options: { stride?: IntPair; padding?: IntPair } = {}) {
    super();
    checkOptions("MaxUnpool2d", options, ["stride", "padding"]);
    this.kernelSize = pair("MaxUnpool2d", "kernelSize", kernelSize, 1);
    this.stride = pair("MaxUnpool2d", "stride", options.stride ?? kernelSize, 1);
    this.padding = pair("MaxUnpool2d", "padding", options.padding ?? 0, 0);
  }

  forward(input: Tensor, indices: Tensor, outputSize?: readonly [number, number]): Tensor {
    return maxUnpool2d(input, indices, this.kernelSize, { stride: this.stride, padding: this.padding, ...(outputSize === undefined ? {} : { outputSize }) });
  }

  override extraRepr(): string {
    return `kernelSize=(${this.kernelSize.join(", ")}), stride=(${this.stride.join(", ")}), padding=(${this.padding.join(", ")})`;
  }
}
