import { ArgumentError, Tensor, defaultGenerator, formatShape, noGrad, type Generator } from "@pico/core";
import { writeRowMajor } from "./assign.js";

/** The nonlinearities calculateGain knows, named as in PyTorch but camelCase. */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "convTranspose1d"
  | "convTranspose2d"
  | "convTranspose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leakyRelu"
  | "selu";

export type FanMode = "fanIn" | "fanOut";

export interface RandomInitOptions {
  /** Where the random numbers come from; defaults to the global default generator (see manualSeed). */
  generator?: Generator;
}

export interface KaimingOptions extends RandomInitOptions {
  /** Negative slope of the leaky ReLU that follows (only used with "leakyRelu"). Default 0. */
  a?: number;
  /** Preserve the variance of the forward pass ("fanIn", default) or of the backward pass ("fanOut"). */
  mode?: FanMode;
  /** Default "leakyRelu", as in PyTorch. */
  nonlinearity?: Nonlinearity;
}

export interface XavierOptions extends RandomInitOptions {
  /** Default 1. */
  gain?: number;
}

const LINEAR_LIKE = new Set<Nonlinearity>(["linear", "conv1d", "conv2d", "conv3d", "convTranspose1d", "convTranspose2d", "convTranspose3d", "sigmoid"]);

/** The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (LINEAR_LIKE.has(nonlinearity)) return 1;
  switch (nonlinearity) {
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw new ArgumentError(`calculateGain: the negative slope of leakyRelu must be a finite number, but got ${String(slope)}`);
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new ArgumentError(`calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/**
 * fanIn = size(1) · receptive field, fanOut = size(0) · receptive field, where the receptive field is
 * the product of the dimensions after the first two ([out, in] for Linear, [outC, inC/groups, kH, kW] for Conv2d).
 */
export function calculateFanInAndFanOut(tensor: Tensor): { fanIn: number; fanOut: number } {
  if (tensor.ndim < 2) {
    throw new ArgumentError(`init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, but got shape ${formatShape(tensor.shape)}`);
  }
  let receptive = 1;
  for (let d = 2; d < tensor.ndim; d++) receptive *= tensor.shape[d]!;
  return { fanIn: tensor.shape[1]! * receptive, fanOut: tensor.shape[0]! * receptive };
}

/** Fills `tensor` with U(a, b) in place (under noGrad) and returns it. */
export function uniform(tensor: Tensor, a = 0, b = 1, options: RandomInitOptions = {}): Tensor {
  if (!(a <= b)) throw new ArgumentError(`init.uniform: need a <= b, but got a=${a}, b=${b}`);
  const gen = options.generator ?? defaultGenerator;
  return fill(tensor, (values) => {
    for (let i = 0; i < values.length; i++) values[i] = a + (b - a) * gen.random();
  });
}

/** Fills `tensor` with N(mean, std²) in place (under noGrad) and returns it. */
export function normal(tensor: Tensor, mean = 0, std = 1, options: RandomInitOptions = {}): Tensor {
  if (!(std >= 0)) throw new ArgumentError(`init.normal: std must be >= 0, but got ${std}`);
  const gen = options.generator ?? defaultGenerator;
  return fill(tensor, (values) => {
    for (let i = 0; i < values.length; i++) values[i] = mean + std * gen.normal();
  });
}

export function constant(tensor: Tensor, value: number): Tensor {
  return fill(tensor, (values) => values.fill(value));
}

export function zeros(tensor: Tensor): Tensor {
  return constant(tensor, 0);
}

export function ones(tensor: Tensor): Tensor {
  return constant(tensor, 1);
}

/** He et al. (2015), uniform: U(-bound, bound) with bound = gain · sqrt(3 / fan). */
export function kaimingUniform(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  const std = kaimingStd("kaimingUniform", tensor, options);
  const bound = Math.sqrt(3) * std;
  return uniform(tensor, -bound, bound, options);
}

/** He et al. (2015), normal: N(0, std²) with std = gain / sqrt(fan). */
export function kaimingNormal(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(tensor, 0, kaimingStd("kaimingNormal", tensor, options), options);
}

/** Glorot & Bengio (2010), uniform: U(-a, a) with a = gain · sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(tensor: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(tensor, -a, a, options);
}

/** Glorot & Bengio (2010), normal: N(0, std²) with std = gain · sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(tensor: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  return normal(tensor, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}

function kaimingStd(op: string, tensor: Tensor, options: KaimingOptions): number {
  const mode = options.mode ?? "fanIn";
  if (mode !== "fanIn" && mode !== "fanOut") throw new ArgumentError(`init.${op}: mode must be "fanIn" or "fanOut", but got ${JSON.stringify(mode)}`);
  const fans = calculateFanInAndFanOut(tensor);
  const fan = mode === "fanIn" ? fans.fanIn : fans.fanOut;
  if (fan === 0) throw new ArgumentError(`init.${op}: cannot initialise a tensor with zero elements (shape ${formatShape(tensor.shape)})`);
  return calculateGain(options.nonlinearity ?? "leakyRelu", options.a ?? 0) / Math.sqrt(fan);
}

/** Draws values in row-major order, so a seeded generator gives the same tensor whatever its strides. */
function fill(tensor: Tensor, draw: (values: Float64Array) => void): Tensor {
  if (!(tensor instanceof Tensor)) throw new ArgumentError(`init: expected a Tensor to fill, but got ${typeof tensor}`);
  const values = new Float64Array(tensor.size);
  draw(values);
  noGrad(() => writeRowMajor(tensor.data, values));
  // In place, as torch's init functions: a graph that saved the tensor refuses to backpropagate.
  tensor.bumpVersion();
  return tensor;
}
