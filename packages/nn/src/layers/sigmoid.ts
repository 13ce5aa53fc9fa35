import type { Tensor } from "@pico/core";
import { sigmoid } from "../functional/activation.js";
import { Module } from "../module.js";

/** 1 / (1 + exp(−x)) elementwise. Shape: any → same. */
export class Sigmoid extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return sigmoid(input);
  }
}
