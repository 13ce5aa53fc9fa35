import type { Tensor } from "@pico/core";
import { mish } from "../functional/mish.js";
import { Module } from "../module.js";

/** x·tanh(softplus(x)) elementwise. Shape: any → same. */
export class Mish extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return mish(input);
  }
}
