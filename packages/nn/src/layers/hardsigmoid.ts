import type { Tensor } from "@pico/core";
import { hardsigmoid } from "../functional/hardsigmoid.js";
import { Module } from "../module.js";

/** relu6(x + 3)/6 elementwise. Shape: any → same. */
export class Hardsigmoid extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return hardsigmoid(input);
  }
}
