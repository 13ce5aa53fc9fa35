import type { Tensor } from "@pico/core";
import { hardswish } from "../functional/hardswish.js";
import { Module } from "../module.js";

/** x·relu6(x + 3)/6 elementwise. Shape: any → same. */
export class Hardswish extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return hardswish(input);
  }
}
