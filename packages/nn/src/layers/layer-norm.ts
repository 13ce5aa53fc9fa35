import { Tensor, type DType } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { checkNormalizedShape, layerNorm } from "../functional/layer-norm.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkNormEps } from "./norm-options.js";

export interface LayerNormLayerOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Learn a scale (ones) and shift (zeros) of shape normalizedShape. Default true. */
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/**
 * Normalises each sample over its last axes (those of `normalizedShape`) with their mean and biased
 * variance, then scales and shifts elementwise, as torch.nn.LayerNorm. Same in training and evaluation.
 * Shape: [*, ...normalizedShape] → same; weight and bias (keys `weight`, `bias`) have shape normalizedShape.
 */
export class LayerNorm extends Module {
  static override keepsNoReferences = true;
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalizedShape: number | readonly number[], options: LayerNormLayerOptions = {}) {
    super();
    checkOptions("LayerNorm", options, ["eps", "elementwiseAffine", "dtype"]);
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    checkNormalizedShape("LayerNorm", shape);
    const eps = options.eps ?? 1e-5;
    checkNormEps("LayerNorm", eps);
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = options.elementwiseAffine ?? true;
    const dtype = options.dtype ?? "float32";
    this.weight = this.elementwiseAffine ? new Parameter(Tensor.ones(shape, { dtype })) : null;
    this.bias = this.elementwiseAffine ? new Parameter(Tensor.zeros(shape, { dtype })) : null;
  }

  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(", ")}], eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
