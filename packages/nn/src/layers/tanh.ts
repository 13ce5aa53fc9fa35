import type { Tensor } from "@pico/core";
import { tanh } from "../functional/activation.js";
import { Module } from "../module.js";

/** tanh(x) elementwise. Shape: any → same. */
export class Tanh extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return tanh(input);
  }
}
