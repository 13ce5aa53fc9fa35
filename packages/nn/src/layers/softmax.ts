import type { Tensor } from "@pico/core";
import { softmax } from "../functional/activation.js";
import { Module } from "../module.js";

/** exp(x) / Σ exp(x) along `axis` (default the last), computed stably. Shape: any → same. */
export class Softmax extends Module {
  static override keepsNoReferences = true;
  readonly axis: number;

  constructor(axis = -1) {
    super();
    this.axis = axis;
  }

  forward(input: Tensor): Tensor {
    return softmax(input, this.axis);
  }

  override extraRepr(): string {
    return `axis=${this.axis}`;
  }
}
