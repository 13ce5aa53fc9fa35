import type { Tensor } from "@pico/core";
import { silu } from "../functional/silu.js";
import { Module } from "../module.js";

/** x·sigmoid(x) (swish) elementwise. Shape: any → same. */
export class SiLU extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return silu(input);
  }
}
