import type { Tensor } from "@pico/core";
import { checkApproximate, gelu, type GeluApproximate } from "../functional/gelu.js";
import { Module } from "../module.js";

/** x·Φ(x) (Φ the standard normal CDF), or its tanh approximation with `approximate: "tanh"`. Shape: any → same. */
export class GELU extends Module {
  static override keepsNoReferences = true;
  readonly approximate: GeluApproximate;

  constructor(options: { approximate?: GeluApproximate } = {}) {
    super();
    const approximate = options.approximate ?? "none";
    checkApproximate("GELU", approximate);
    this.approximate = approximate;
  }

  forward(input: Tensor): Tensor {
    return gelu(input, { approximate: this.approximate });
  }

  override extraRepr(): string {
    return `approximate=${this.approximate}`;
  }
}
