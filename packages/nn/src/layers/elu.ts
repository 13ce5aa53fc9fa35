import type { Tensor } from "@pico/core";
import { checkNumber } from "../functional/check.js";
import { elu } from "../functional/elu.js";
import { Module } from "../module.js";

/** x where x > 0, α·(exp(x) − 1) elsewhere (default α = 1). Shape: any → same. */
export class ELU extends Module {
  static override keepsNoReferences = true;
  readonly alpha: number;

  constructor(alpha = 1) {
    super();
    checkNumber("ELU", "alpha", alpha, -Infinity, Infinity);
    this.alpha = alpha;
  }

  forward(input: Tensor): Tensor {
    return elu(input, this.alpha);
  }

  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}
