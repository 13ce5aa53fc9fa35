import { ShapeError, formatShape, ops, type Tensor } from "@pico/core";
import { checkSameDtype, checkTensor } from "./check.js";

/** y = x · weightᵀ + bias, with x [..., inFeatures], weight [outFeatures, inFeatures], bias [outFeatures]. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor("linear", "input", input);
  checkTensor("linear", "weight", weight);
  if (bias !== null) checkTensor("linear", "bias", bias);
  checkSameDtype("linear", input, "weight", weight);
  checkSameDtype("linear", input, "bias", bias);
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be rank 2 [outFeatures, inFeatures], but got shape ${formatShape(weight.shape)}`);
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  if (input.ndim < 1 || input.shape[input.ndim - 1] !== inFeatures) {
    throw new ShapeError(`linear: input must end with inFeatures = ${inFeatures} [..., ${inFeatures}], but got shape ${formatShape(input.shape)}`);
  }
  if (bias === null) return input.matmul(weight.transpose());
  if (bias.ndim !== 1 || bias.shape[0] !== outFeatures) {
    throw new ShapeError(`linear: bias must have shape [${outFeatures}] (outFeatures), but got ${formatShape(bias.shape)}`);
  }
  // A batch of rows: the product accumulates onto the bias in one GEMM, which reads the weight transposed
  // (torch's addmm(bias, input, weight.t()) without a transpose node: no Permute call and view each way).
  if (input.ndim === 2) return ops.Addmm.apply(bias, input, weight, true);
  return input.matmul(weight.transpose()).add(bias);
}
