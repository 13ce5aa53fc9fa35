import type { Tensor } from "@pico/core";
import { Module } from "../module.js";

/** Returns its input unchanged: a placeholder where a layer is optional. */
export class Identity extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return input;
  }
}
