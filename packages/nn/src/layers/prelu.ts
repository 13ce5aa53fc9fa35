import { Tensor, type DType } from "@pico/core";
import { checkNumber, checkOptions } from "../functional/check.js";
import { prelu } from "../functional/prelu.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkPositiveInteger } from "./check.js";

export interface PReLUOptions {
  /** 1 (one slope shared by all channels) or the number of channels (axis 1 of the input). Default 1. */
  numParameters?: number;
  /** Initial slope. Default 0.25. */
  init?: number;
  dtype?: DType;
}

/**
 * x where x > 0, a·x elsewhere, with a learned slope a per channel (or one for all), as torch.nn.PReLU.
 * Shape: any → same (input of rank ≥ 2 has its channels on axis 1); weight [numParameters], key `weight`.
 * (`slopes` holds numParameters: Module.numParameters() already counts parameters.)
 */
export class PReLU extends Module {
  static override keepsNoReferences = true;
  readonly slopes: number;
  weight: Parameter;

  constructor(options: PReLUOptions = {}) {
    super();
    checkOptions("PReLU", options, ["numParameters", "init", "dtype"]);
    const numParameters = options.numParameters ?? 1;
    const init = options.init ?? 0.25;
    checkPositiveInteger("PReLU", "numParameters", numParameters);
    checkNumber("PReLU", "init", init, -Infinity, Infinity);
    this.slopes = numParameters;
    this.weight = new Parameter(Tensor.full([numParameters], init, { dtype: options.dtype ?? "float32" }));
  }

  forward(input: Tensor): Tensor {
    return prelu(input, this.weight);
  }

  override extraRepr(): string {
    return `numParameters=${this.slopes}`;
  }
}
