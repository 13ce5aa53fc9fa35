import { ArgumentError, Context, Function, ShapeError, Tensor, formatShape, kernels, type NDArray } from "@pico/core";
import { flatData } from "../kernels/flat.js";
import { checkOptions, checkSameDtype } from "./check.js";
import { checkPair, pair, pairPart, type IntPair } from "./pair.js";

export interface Conv2dOptions {
  stride?: IntPair;
  padding?: IntPair;
  dilation?: IntPair;
  groups?: number;
}

export type Conv2dGeometry = kernels.Conv2dGeometry;

type Conv2dContext = Context & { geometry: Conv2dGeometry; run: kernels.Conv2dRun; prepared?: kernels.PreparedWeights; handOffGradInput: boolean };

/**
 * 2-D cross-correlation over NCHW input (PyTorch's conv2d) with its input, weight and bias gradients.
 * The kernel is the conv2d family's (`kernels.conv2dKernels`, chosen by useKernels); backward runs the
 * one forward ran, recorded on ctx. `handOffGradInput` (default false): the caller knows x is read by
 * this call alone, so its gradient goes to the backward of the one Function that made x, and the kernel
 * may leave it in its module for that backward (kernels.Conv2dBackwardOptions); only nn's fusion patterns set it.
 */
export class Conv2dFunction extends Function {
  static override forward(ctx: Conv2dContext, x: NDArray, weight: NDArray, bias: NDArray | null, options: Conv2dOptions = {}, handOffGradInput = false): NDArray {
    return Conv2dFunction.forwardInto(ctx, undefined, x, weight, bias, options, handOffGradInput);
  }

  /** forward writing into `into` (packed, of the output's shape and dtype; a new array when undefined). */
  static forwardInto(
    ctx: Conv2dContext, into: NDArray | undefined, x: NDArray, weight: NDArray, bias: NDArray | null, options: Conv2dOptions = {}, handOffGradInput = false,
  ): NDArray {
    const g = conv2dGeometry(x.shape, weight.shape, bias === null ? null : bias.shape, options);
    const dtype = [x, weight, bias].some((a) => a !== null && kernels.dtypeOf(a) === "float64") ? "float64" : "float32";
    // Every kernel writes every output element: no need to zero-fill a recycled buffer first.
    const out = into ?? kernels.empty(dtype, [g.batch, g.outChannels, g.outHeight, g.outWidth]);
    const keep = ctx.needsInputGrad[1] === true;
    const run = kernels.conv2dForward(g, flatData(x, dtype), flatData(weight, dtype), bias === null ? null : flatData(bias, dtype), out.data, {
      keepForBackward: keep,
      prepared: ctx.reused ? (ctx.prepared ??= new kernels.PreparedWeights()) : undefined,
    });
    if (ctx.needsInputGrad[0] || ctx.needsInputGrad[1] || ctx.needsInputGrad[2]) {
      ctx.geometry = g;
      ctx.run = run;
      ctx.handOffGradInput = handOffGradInput === true;
      ctx.saveForBackward(x, weight);
    }
    return out;
  }

  static override backward(ctx: Conv2dContext, gy: NDArray): (NDArray | null)[] {
    const [x, weight] = ctx.savedTensors as [NDArray, NDArray];
    const g = ctx.geometry;
    const dtype = kernels.dtypeOf(gy);
    const gx = ctx.needsInputGrad[0] ? kernels.empty(dtype, x.shape) : null;
    const gw = ctx.needsInputGrad[1] ? kernels.empty(dtype, weight.shape) : null;
    const gb = ctx.needsInputGrad[2] ? kernels.empty(dtype, [g.outChannels]) : null;
    const input = gw !== null ? flatData(x, dtype) : null;
    const grads = { input: gx?.data ?? null, weight: gw?.data ?? null, bias: gb?.data ?? null };
    kernels.conv2dBackward(ctx.run, g, flatData(gy, dtype), flatData(weight, dtype), input, grads, { handOffGradInput: ctx.handOffGradInput });
    // null for the options, and for handOffGradInput when the call passed it.
    const out: (NDArray | null)[] = [gx, gw, gb];
    for (let i = 3; i < ctx.needsInputGrad.length; i++) out.push(null);
    return out;
  }
}

/** conv2d's options: Conv2dOptions whose padding may also be "valid" (none) or "same" (stride 1 only). */
export interface Conv2dCallOptions extends Omit<Conv2dOptions, "padding"> {
  padding?: IntPair | "same" | "valid";
}

/**
 * torch's padding="same" for a kernel of size `kernel` (dilated): [before, after] on one axis; the
 * odd extra row or column of an even dilated kernel goes after (bottom / right), as PyTorch.
 */
export function samePadding(kernel: number, dilation: number): [number, number] {
  const total = dilation * (kernel - 1);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): input [N, C, H, W] (or unbatched [C, H, W]),
 * weight [outC, C/groups, kH, kW], bias [outC]. Output [N, outC, oH, oW] with
 * oH = floor((H + 2·padding − dilation·(kH − 1) − 1) / stride) + 1, likewise oW.
 * padding "valid" is 0; "same" (stride 1 only) keeps H and W, padding the bottom and right by one
 * more than the top and left when the dilated kernel is even, as PyTorch.
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dCallOptions = {}): Tensor {
  return convolve(input, weight, bias, options, false);
}

/**
 * conv2d for a caller that knows `input` is read by this convolution alone (nn's fusion patterns, through
 * Conv2d.forwardHandingOffGradInput): where the convolution reads `input` itself (no padded or unsqueezed
 * copy), its input gradient may stay in the kernel module for the backward of what made `input`.
 * @internal
 */
export function conv2dHandingOffGradInput(input: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dCallOptions): Tensor {
  return convolve(input, weight, bias, options, true);
}

function convolve(input: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: Conv2dCallOptions, handOffGradInput: boolean): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`conv2d: input must be a Tensor, but got ${typeof input}`);
  if (!(weight instanceof Tensor)) throw new ArgumentError(`conv2d: weight must be a Tensor, but got ${typeof weight}`);
  if (bias !== undefined && bias !== null && !(bias instanceof Tensor)) throw new ArgumentError(`conv2d: bias must be a Tensor or null, but got ${typeof bias}`);
  checkOptions("conv2d", options, ["stride", "padding", "dilation", "groups"]);
  checkSameDtype("conv2d", input, "weight", weight);
  checkSameDtype("conv2d", input, "bias", bias);
  const { padding } = options;
  if (padding === "valid") return convolve(input, weight, bias, { ...options, padding: 0 }, handOffGradInput);
  if (padding === "same") {
    const stride = pair("conv2d", "stride", options.stride ?? 1, 1);
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw new ArgumentError(`conv2d: padding "same" needs stride 1 (a strided output cannot keep the input's size), but got stride [${stride.join(", ")}]`);
    }
    if (weight.ndim !== 4) throw new ShapeError(`conv2d: weight must be rank 4 [outC, C/groups, kH, kW], but got rank ${weight.ndim} with shape ${formatShape(weight.shape)}`);
    const dilation = pair("conv2d", "dilation", options.dilation ?? 1, 1);
    const [top, bottom] = samePadding(weight.shape[2]!, dilation[0]);
    const [left, right] = samePadding(weight.shape[3]!, dilation[1]);
    if (top === bottom && left === right) return convolve(input, weight, bias, { ...options, padding: [top, left] }, handOffGradInput);
    return conv2d(input.pad([left, right, top, bottom]), weight, bias, { ...options, padding: 0 });
  }
  if (input.ndim === 3) {
    const groups = options.groups ?? 1;
    const expected = weight.ndim === 4 && Number.isInteger(groups) && groups >= 1 ? weight.shape[1]! * groups : input.shape[0];
    if (input.shape[0] !== expected) {
      throw new ShapeError(
        `conv2d: expected unbatched input with ${expected} channels [${expected}, H, W] (weight ${formatShape(weight.shape)}, groups ${groups}), ` +
          `but got shape ${formatShape(input.shape)}`,
      );
    }
    return Conv2dFunction.apply(input.unsqueeze(0), weight, bias ?? null, options as Conv2dOptions).squeeze(0);
  }
  return Conv2dFunction.apply(input, weight, bias ?? null, options as Conv2dOptions, handOffGradInput);
}

/** Validates shapes and options, naming the rule broken and what was received. */
export function conv2dGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  bShape: readonly number[] | null,
  options: Conv2dOptions,
): Conv2dGeometry {
  const op = "conv2d";
  if (xShape.length !== 4) {
    throw new ShapeError(`${op}: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank ${xShape.length} with shape ${formatShape(xShape)}`);
  }
  if (wShape.length !== 4) {
    throw new ShapeError(`${op}: weight must be rank 4 [outC, C/groups, kH, kW], but got rank ${wShape.length} with shape ${formatShape(wShape)}`);
  }
  // Read part by part (pairPart), not as [height, width] arrays: a convolution checks its geometry on every call.
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  const dilation = options.dilation ?? 1;
  checkPair(op, "stride", stride, 1);
  checkPair(op, "padding", padding, 0);
  checkPair(op, "dilation", dilation, 1);
  const strideHeight = pairPart(stride, 0);
  const strideWidth = pairPart(stride, 1);
  const padHeight = pairPart(padding, 0);
  const padWidth = pairPart(padding, 1);
  const dilationHeight = pairPart(dilation, 0);
  const dilationWidth = pairPart(dilation, 1);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ArgumentError(`${op}: groups must be an integer >= 1, but got ${String(groups)}`);
  const batch = xShape[0]!;
  const inChannels = xShape[1]!;
  const inHeight = xShape[2]!;
  const inWidth = xShape[3]!;
  const outChannels = wShape[0]!;
  const weightChannels = wShape[1]!;
  const kernelHeight = wShape[2]!;
  const kernelWidth = wShape[3]!;
  if (outChannels < 1 || weightChannels < 1 || kernelHeight < 1 || kernelWidth < 1) {
    throw new ShapeError(`${op}: weight [outC, C/groups, kH, kW] must have no zero dimension, but got shape ${formatShape(wShape)}`);
  }
  if (outChannels % groups !== 0) {
    throw new ShapeError(`${op}: weight's ${outChannels} output channels (shape ${formatShape(wShape)}) must be divisible by groups ${groups}`);
  }
  if (inChannels % groups !== 0) {
    throw new ShapeError(`${op}: input channels ${inChannels} (shape ${formatShape(xShape)}) must be divisible by groups ${groups}`);
  }
  const expected = weightChannels * groups;
  if (inChannels !== expected) {
    throw new ShapeError(
      `${op}: expected input with ${expected} channel${expected === 1 ? "" : "s"} [N, ${expected}, H, W] (weight ${formatShape(wShape)}, groups ${groups}), but got shape ${formatShape(xShape)}`,
    );
  }
  if (bShape !== null && (bShape.length !== 1 || bShape[0] !== outChannels)) {
    throw new ShapeError(`${op}: bias must have shape [${outChannels}] (one per output channel of weight ${formatShape(wShape)}), but got ${formatShape(bShape)}`);
  }
  const outHeight = kernels.outputSize(inHeight, kernelHeight, strideHeight, padHeight, dilationHeight);
  const outWidth = kernels.outputSize(inWidth, kernelWidth, strideWidth, padWidth, dilationWidth);
  if (outHeight < 1 || outWidth < 1) {
    throw new ShapeError(
      `${op}: output size would be ${outHeight}x${outWidth} for input ${formatShape(xShape)}, kernel ${kernelHeight}x${kernelWidth}, ` +
        `stride [${strideHeight}, ${strideWidth}], padding [${padHeight}, ${padWidth}], dilation [${dilationHeight}, ${dilationWidth}]; ` +
        `the padded input must be at least dilation·(kernel − 1) + 1 in each spatial dimension`,
    );
  }
  return {
    batch,
    inChannels,
    inHeight,
    inWidth,
    outChannels,
    groups,
    kernelHeight,
    kernelWidth,
    strideHeight,
    strideWidth,
    padHeight,
    padWidth,
    dilationHeight,
    dilationWidth,
    outHeight,
    outWidth,
  };
}
