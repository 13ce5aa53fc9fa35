import { ArgumentError, Tensor } from "@pico/core";
import type { BatchNormBase } from "../layers/batch-norm.js";

/**
 * The weight and bias of one convolution equal to a convolution followed by a BatchNorm in evaluation
 * (PyTorch's torch.nn.utils.fusion.fuse_conv_bn_weights): with s = γ / sqrt(runningVar + eps) per output
 * channel, W' = W · s and b' = (b − runningMean) · s + β. Built from tensor operators, so gradients reach
 * W, b, γ and β as through the two layers; the running statistics are constants, as in evaluation.
 */
export function foldBatchNorm(weight: Tensor, bias: Tensor | null, bn: BatchNormBase): { weight: Tensor; bias: Tensor } {
  const mean = bn.running_mean;
  const variance = bn.running_var;
  if (mean === null || variance === null) {
    throw new ArgumentError(`foldBatchNorm: the BatchNorm must track running statistics (trackRunningStats true), but ${bn.constructor.name} has none`);
  }
  const out = weight.shape[0]!;
  if (bn.numFeatures !== out) {
    throw new ArgumentError(`foldBatchNorm: the BatchNorm has ${bn.numFeatures} features, but the weight has ${out} output channels`);
  }
  const std = variance.add(bn.eps).sqrt();
  const scale = bn.weight === null ? std.pow(-1) : bn.weight.div(std);
  const folded = weight.mul(scale.reshape([out, ...weight.shape.slice(1).map(() => 1)]));
  let shift = (bias === null ? mean.neg() : bias.sub(mean)).mul(scale);
  if (bn.bias !== null) shift = shift.add(bn.bias);
  return { weight: folded, bias: shift };
}
