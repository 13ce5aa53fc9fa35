import type { Tensor } from "@pico/core";
import { relu } from "../functional/activation.js";
import { Module } from "../module.js";

/** max(x, 0) elementwise. Shape: any → same. */
export class ReLU extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return relu(input);
  }
}
