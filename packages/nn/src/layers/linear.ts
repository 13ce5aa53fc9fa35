import { ShapeError, Tensor, formatShape, type DType, type Generator } from "@pico/core";
import { checkTensor } from "../functional/check.js";
import { linear } from "../functional/linear.js";
import { kaimingUniform, uniform } from "../init.js";
import { checkOptions } from "../functional/check.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkPositiveInteger } from "./check.js";

export interface LinearOptions {
  /** Learn an additive bias. Default true. */
  bias?: boolean;
  dtype?: DType;
  /** Source of the initial weights; default the global default generator. */
  generator?: Generator;
}

/**
 * y = x · Wᵀ + b.
 *
 * Shape: input [..., inFeatures] → output [..., outFeatures]; weight [outFeatures, inFeatures], bias [outFeatures].
 * Initialised as PyTorch: W and b uniform in ±1/sqrt(inFeatures).
 *
 * @example new Linear(256, 120).forward(Tensor.randn([64, 256])) // [64, 120]
 */
export class Linear extends Module {
  static override keepsNoReferences = true;
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    checkOptions("Linear", options, ["bias", "dtype", "generator"]);
    checkPositiveInteger("Linear", "inFeatures", inFeatures);
    checkPositiveInteger("Linear", "outFeatures", outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const dtype = options.dtype ?? "float32";
    this.weight = new Parameter(Tensor.zeros([outFeatures, inFeatures], { dtype }));
    this.bias = options.bias === false ? null : new Parameter(Tensor.zeros([outFeatures], { dtype }));
    this.resetParameters({ generator: options.generator });
  }

  /** kaiming_uniform(a = sqrt(5)) for the weight, U(±1/sqrt(fanIn)) for the bias, as torch.nn.Linear. */
  resetParameters(options: { generator?: Generator | undefined } = {}): void {
    kaimingUniform(this.weight, { a: Math.sqrt(5), generator: options.generator });
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt(this.inFeatures);
      uniform(this.bias, -bound, bound, { generator: options.generator });
    }
  }

  forward(input: Tensor): Tensor {
    checkTensor("Linear", "input", input);
    if (input.ndim === 0 || input.shape[input.ndim - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear: expected input with ${this.inFeatures} features [..., ${this.inFeatures}], but got shape ${formatShape(input.shape)}`);
    }
    return linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
