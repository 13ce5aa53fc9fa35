import { ArgumentError, Function, ShapeError, formatShape, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { flatData } from "../kernels/flat.js";
import { checkOptions, checkSameDtype, checkTensor } from "./check.js";
import { pair, type IntPair } from "./pair.js";

export interface ConvTranspose2dOptions {
  /** Default 1. */
  stride?: IntPair;
  /** Rows/columns taken off each side of the full output. Default 0. */
  padding?: IntPair;
  /** Rows/columns added to the bottom/right of the output, to pick among the sizes a strided convolution maps to one size. Default 0. */
  outputPadding?: IntPair;
  /** Default 1. */
  groups?: number;
  /** Default 1. */
  dilation?: IntPair;
}

type ConvTransposeContext = Context & { geometry: kernels.Conv2dGeometry };

/**
 * The transposed convolution is the input gradient of the convolution whose input has the transposed
 * convolution's output shape and whose weight is the same tensor ([inC, outC/groups, kH, kW] read as a
 * convolution's [outC', inC'/groups, kH, kW]): forward runs the conv2d family's input gradient, backward
 * its forward (input gradient) and its weight gradient, so both get the fast convolution kernels.
 */
export class ConvTranspose2dFunction extends Function {
  static override forward(ctx: ConvTransposeContext, x: NDArray, weight: NDArray, bias: NDArray | null, options: ConvTranspose2dOptions = {}): NDArray {
    const g = convTranspose2dGeometry(x.shape, weight.shape, bias === null ? null : bias.shape, options);
    const dtype = [x, weight, bias].some((a) => a !== null && kernels.dtypeOf(a) === "float64") ? "float64" : "float32";
    const out = kernels.empty(dtype, [g.batch, g.inChannels, g.inHeight, g.inWidth]);
    const w = flatData(weight, dtype);
    // The conv2d family's backward needs a forward run to pair with; a TypeScript-GEMM run keeps nothing.
    const run = { kernel: { family: "conv2d", backend: "js" as const, kernel: kernels.conv2dGemmKernel }, saved: { chunk: 1, cols: null } };
    kernels.conv2dBackward(run, g, flatData(x, dtype), w, null, { input: out.data, weight: null, bias: null });
    if (bias !== null) addBias(out.data, flatData(bias, dtype), g.batch, g.inChannels, g.inHeight * g.inWidth);
    ctx.geometry = g;
    ctx.saveForBackward(x, weight);
    return out;
  }

  static override backward(ctx: ConvTransposeContext, gy: NDArray): (NDArray | null)[] {
    const [x, weight] = ctx.savedTensors as [NDArray, NDArray];
    const g = ctx.geometry;
    const dtype = kernels.dtypeOf(gy);
    const dy = flatData(gy, dtype);
    const w = flatData(weight, dtype);
    let gx: NDArray | null = null;
    let gw: NDArray | null = null;
    let run: kernels.Conv2dRun | null = null;
    if (ctx.needsInputGrad[0] || ctx.needsInputGrad[1]) {
      gx = kernels.empty(dtype, x.shape);
      run = kernels.conv2dForward(g, dy, w, null, gx.data, { keepForBackward: ctx.needsInputGrad[1] === true });
    }
    if (ctx.needsInputGrad[1]) {
      gw = kernels.empty(dtype, weight.shape);
      kernels.conv2dBackward(run!, g, flatData(x, dtype), w, dy, { input: null, weight: gw.data, bias: null });
    }
    let gb: NDArray | null = null;
    if (ctx.needsInputGrad[2]) {
      gb = kernels.create(dtype, [g.inChannels]);
      const plane = g.inHeight * g.inWidth;
      for (let n = 0; n < g.batch; n++) {
        for (let c = 0; c < g.inChannels; c++) {
          let s = 0;
          const start = dy.offset + (n * g.inChannels + c) * plane;
          for (let i = start; i < start + plane; i++) s += dy.data[i]!;
          gb.data[c]! += s;
        }
      }
    }
    return [ctx.needsInputGrad[0] ? gx : null, gw, gb, null];
  }
}

function addBias(out: kernels.Flat["data"], bias: kernels.Flat, batch: number, channels: number, plane: number): void {
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const b = bias.data[bias.offset + c]!;
      const start = (n * channels + c) * plane;
      for (let i = start; i < start + plane; i++) out[i] = out[i]! + b;
    }
  }
}

/** (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1, per side. */
export function convTransposeOutputSize(size: number, kernel: number, stride: number, padding: number, dilation: number, outputPadding: number): number {
  return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1;
}

/**
 * The geometry of the convolution this transposed convolution is the input gradient of: its input is the
 * transposed convolution's output, its output the transposed convolution's input.
 */
export function convTranspose2dGeometry(xShape: readonly number[], wShape: readonly number[], bShape: readonly number[] | null, options: ConvTranspose2dOptions): kernels.Conv2dGeometry {
  const op = "convTranspose2d";
  if (xShape.length !== 4) throw new ShapeError(`${op}: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got shape ${formatShape(xShape)}`);
  if (wShape.length !== 4) throw new ShapeError(`${op}: weight must be rank 4 [inC, outC/groups, kH, kW], but got shape ${formatShape(wShape)}`);
  const stride = pair(op, "stride", options.stride ?? 1, 1);
  const padding = pair(op, "padding", options.padding ?? 0, 0);
  const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
  const outputPadding = pair(op, "outputPadding", options.outputPadding ?? 0, 0);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ArgumentError(`${op}: groups must be an integer >= 1, but got ${String(groups)}`);
  for (let i = 0; i < 2; i++) {
    if (outputPadding[i]! >= stride[i]! && outputPadding[i]! >= dilation[i]!) {
      throw new ArgumentError(
        `${op}: outputPadding must be smaller than either stride or dilation, but got outputPadding [${outputPadding.join(", ")}], stride [${stride.join(", ")}], dilation [${dilation.join(", ")}]`,
      );
    }
  }
  const [batch, inChannels, inHeight, inWidth] = xShape as [number, number, number, number];
  const [weightIn, weightOut, kernelHeight, kernelWidth] = wShape as [number, number, number, number];
  if (weightIn !== inChannels) {
    throw new ShapeError(`${op}: expected input with ${weightIn} channels [N, ${weightIn}, H, W] (weight ${formatShape(wShape)}), but got shape ${formatShape(xShape)}`);
  }
  if (inChannels % groups !== 0) throw new ShapeError(`${op}: input channels ${inChannels} must be divisible by groups ${groups}`);
  const outChannels = weightOut * groups;
  if (bShape !== null && (bShape.length !== 1 || bShape[0] !== outChannels)) {
    throw new ShapeError(`${op}: bias must have shape [${outChannels}] (one per output channel), but got ${formatShape(bShape)}`);
  }
  const outHeight = convTransposeOutputSize(inHeight, kernelHeight, stride[0], padding[0], dilation[0], outputPadding[0]);
  const outWidth = convTransposeOutputSize(inWidth, kernelWidth, stride[1], padding[1], dilation[1], outputPadding[1]);
  if (outHeight < 1 || outWidth < 1) {
    throw new ShapeError(`${op}: output size would be ${outHeight}x${outWidth} for input ${formatShape(xShape)}, kernel ${kernelHeight}x${kernelWidth}, stride [${stride.join(", ")}], padding [${padding.join(", ")}]: the padding eats the whole output`);
  }
  return {
    batch,
    inChannels: outChannels,
    inHeight: outHeight,
    inWidth: outWidth,
    outChannels: inChannels,
    groups,
    kernelHeight,
    kernelWidth,
    strideHeight: stride[0],
    strideWidth: stride[1],
    padHeight: padding[0],
    padWidth: padding[1],
    dilationHeight: dilation[0],
    dilationWidth: dilation[1],
    outHeight: inHeight,
    outWidth: inWidth,
  };
}

/** torch.nn.functional.conv_transpose2d: weight [inC, outC/groups, kH, kW]; unbatched [C, H, W] input too. */
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  const op = "convTranspose2d";
  checkTensor(op, "input", input);
  checkTensor(op, "weight", weight);
  if (bias !== undefined && bias !== null) checkTensor(op, "bias", bias);
  checkOptions(op, options, ["stride", "padding", "outputPadding", "groups", "dilation"]);
  checkSameDtype(op, input, "weight", weight);
  checkSameDtype(op, input, "bias", bias);
  if (input.ndim === 3) return ConvTranspose2dFunction.apply(input.unsqueeze(0), weight, bias ?? null, options).squeeze(0);
  return ConvTranspose2dFunction.apply(input, weight, bias ?? null, options);
}
