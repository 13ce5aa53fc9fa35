import { Function, ShapeError, formatShape, kernels, type NDArray, type Tensor } from "@pico/core";
import { addRelu } from "./add-relu.js";
import { batchNormImpl, normalizeBackward, normalizeForward, watchedBy, type BatchNormCtx, type BatchNormOptions, type BatchNormState } from "./batch-norm.js";
import { checkTensor } from "./check.js";

/**
 * relu(batchNorm(input) + residual), the end of a residual block (`relu(x + bn2(conv2(h)))`), in one pass:
 * the residual is added as the normalised values are written, so neither the normalised tensor nor the sum
 * exists on its own, and backward masks the gradient by the output while computing the batch norm's sums,
 * that masked gradient being the residual's. The same values and gradients as BatchNorm then AddRelu (each
 * output rounded as theirs), on the "batchNorm" kernel family's kernel (WebAssembly SIMD split across
 * `@pico/core/threads`, or the reference loops). input and residual: one shape and dtype.
 */
export class BatchNormAddRelu extends Function {
  static override forward(ctx: BatchNormCtx, input: NDArray, residual: NDArray, weight: NDArray | null, bias: NDArray | null, state: BatchNormState): NDArray {
    const out = normalizeForward(ctx, undefined, input, weight, bias, { ...state, relu: true }, residual);
    // The output gives backward the ReLU's mask (the residual is not needed again), as torch's relu saves its result.
    ctx.saveForBackward(input, out, ...watchedBy(weight, state));
    return out;
  }

  static override backward(ctx: BatchNormCtx, g: NDArray): [NDArray | null, NDArray | null, NDArray | null, NDArray | null, null] {
    const { gradInput, gradResidual, gradWeight, gradBias } = normalizeBackward(ctx, g, ctx.savedTensors[1]!, 2, 1);
    return [gradInput, gradResidual, gradWeight, gradBias, null];
  }
}

/**
 * relu(batchNorm(input, runningMean, runningVar, options) + residual) (BatchNormAddRelu), with batchNorm's
 * options and checks. A residual of another shape or dtype (broadcast, promoted) goes as the two operators.
 */
export function batchNormAddRelu(input: Tensor, residual: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  checkTensor("batchNormAddRelu", "input", input);
  checkTensor("batchNormAddRelu", "residual", residual);
  if (!kernels.sameShape(input.shape, residual.shape) || input.dtype !== residual.dtype) {
    // Checked here so that the error names this operator, then the broadcast sum as addRelu takes it.
    kernels.broadcastShapes("batchNormAddRelu", input.shape, residual.shape);
    return addRelu(batchNormImpl("batchNormAddRelu", input, runningMean, runningVar, options, false), residual);
  }
  if (input.ndim < 2) throw new ShapeError(`batchNormAddRelu: input must have at least 2 dimensions [N, C, ...], but got shape ${formatShape(input.shape)}`);
  return batchNormImpl("batchNormAddRelu", input, runningMean, runningVar, options, true, (weight, bias, state) => BatchNormAddRelu.apply(input, residual, weight, bias, state));
}
