import { defaultGenerator, type Generator, type Tensor } from "@pico/core";
import { checkNumber, checkOptions } from "../functional/check.js";
import { dropout2d } from "../functional/dropout2d.js";
import { Module } from "../module.js";

/**
 * In training, zeroes each channel of each sample with probability p and scales the others by 1 / (1 − p);
 * in evaluation, the identity. Shape: [N, C, H, W] or [C, H, W] → same.
 */
export class Dropout2d extends Module {
  static override keepsNoReferences = true;
  readonly p: number;
  generator: Generator;

  constructor(p = 0.5, options: { generator?: Generator } = {}) {
    super();
    checkOptions("Dropout2d", options, ["generator"]);
    checkNumber("Dropout2d", "p (the probability of a channel being zeroed)", p, 0, 1);
    this.p = p;
    this.generator = options.generator ?? defaultGenerator;
  }

  forward(input: Tensor): Tensor {
    return dropout2d(input, this.p, { training: this.training, generator: this.generator });
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
