import type { Tensor } from "@pico/core";
import { pixelShuffle, pixelUnshuffle } from "../functional/pixel-shuffle.js";
import { Module } from "../module.js";
import { checkPositiveInteger } from "./check.js";

/** Rearranges [*, C·r², H, W] into [*, C, H·r, W·r] (sub-pixel convolution, Shi et al. 2016), as torch.nn.PixelShuffle. */
export class PixelShuffle extends Module {
  static override keepsNoReferences = true;
  constructor(readonly upscaleFactor: number) {
    super();
    checkPositiveInteger("PixelShuffle", "upscaleFactor", upscaleFactor);
  }

  forward(input: Tensor): Tensor {
    return pixelShuffle(input, this.upscaleFactor);
  }

  override extraRepr(): string {
    return `upscaleFactor=${this.upscaleFactor}`;
  }
}

/** The inverse of PixelShuffle: [*, C, H·r, W·r] → [*, C·r², H, W], as torch.nn.PixelUnshuffle. */
export class PixelUnshuffle extends Module {
  static override keepsNoReferences = true;
  constructor(readonly downscaleFactor: number) {
    super();
    checkPositiveInteger("PixelUnshuffle", "downscaleFactor", downscaleFactor);
  }

  forward(input: Tensor): Tensor {
    return pixelUnshuffle(input, this.downscaleFactor);
  }

  override extraRepr(): string {
    return `downscaleFactor=${this.downscaleFactor}`;
  }
}
