import { defaultGenerator, type Generator, type Tensor } from "@pico/core";
import { checkNumber } from "../functional/check.js";
import { dropout } from "../functional/dropout.js";
import { checkOptions } from "../functional/check.js";
import { Module } from "../module.js";

/**
 * In training, zeroes each element with probability p and scales the others by 1 / (1 − p);
 * in evaluation, the identity. The mask is drawn from `generator` (default: the global default
 * generator, see manualSeed). Shape: any → same.
 */
export class Dropout extends Module {
  static override keepsNoReferences = true;
  readonly p: number;
  generator: Generator;

  constructor(p = 0.5, options: { generator?: Generator } = {}) {
    super();
    checkOptions("Dropout", options, ["generator"]);
    checkNumber("Dropout", "p (the probability of an element being zeroed)", p, 0, 1);
    this.p = p;
    this.generator = options.generator ?? defaultGenerator;
  }

  forward(input: Tensor): Tensor {
    return dropout(input, this.p, { training: this.training, generator: this.generator });
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
