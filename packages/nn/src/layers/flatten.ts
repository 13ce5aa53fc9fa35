import type { Tensor } from "@pico/core";
import { flatten } from "../functional/flatten.js";
import { Module } from "../module.js";

/**
 * Collapses axes startDim..endDim into one.
 *
 * Shape: [N, C, H, W] → [N, C·H·W] with the defaults startDim = 1, endDim = −1.
 */
export class Flatten extends Module {
  static override keepsNoReferences = true;
  readonly startDim: number;
  readonly endDim: number;

  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }

  forward(input: Tensor): Tensor {
    return flatten(input, this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}
