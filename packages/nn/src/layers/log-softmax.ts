import type { Tensor } from "@pico/core";
import { logSoftmax } from "../functional/activation.js";
import { Module } from "../module.js";

/** log(softmax(x)) along `axis` (default the last), computed stably. Shape: any → same. */
export class LogSoftmax extends Module {
  static override keepsNoReferences = true;
  readonly axis: number;

  constructor(axis = -1) {
    super();
    this.axis = axis;
  }

  forward(input: Tensor): Tensor {
    return logSoftmax(input, this.axis);
  }

  override extraRepr(): string {
    return `axis=${this.axis}`;
  }
}
