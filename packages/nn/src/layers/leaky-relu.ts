import type { Tensor } from "@pico/core";
import { checkNumber } from "../functional/check.js";
import { leakyRelu } from "../functional/leaky-relu.js";
import { Module } from "../module.js";

/** x where x > 0, negativeSlope · x elsewhere (default slope 0.01). Shape: any → same. */
export class LeakyReLU extends Module {
  static override keepsNoReferences = true;
  readonly negativeSlope: number;

  constructor(negativeSlope = 0.01) {
    super();
    checkNumber("LeakyReLU", "negativeSlope", negativeSlope, -Infinity, Infinity);
    this.negativeSlope = negativeSlope;
  }

  forward(input: Tensor): Tensor {
    return leakyRelu(input, this.negativeSlope);
  }

  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}
