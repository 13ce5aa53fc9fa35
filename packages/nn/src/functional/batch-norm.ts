import { ArgumentError, Function, ShapeError, formatShape, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkNumber, checkTensor } from "./check.js";

export interface BatchNormOptions {
  /** Scale γ per channel, shape [C]; none means 1. */
  weight?: Tensor | null;
  /** Shift β per channel, shape [C]; none means 0. */
  bias?: Tensor | null;
  /** Normalise with the batch's statistics (and update the running ones) instead of the running ones. Default false. */
  training?: boolean;
  /** Weight of the new batch in the running averages. Default 0.1. */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
}

interface BatchNormState {
  runningMean: NDArray | null;
  runningVar: NDArray | null;
  training: boolean;
  momentum: number;
  eps: number;
}

type BatchNormCtx = Context & { training: boolean };

/**
 * Normalises each channel (axis 1) of [N, C, ...]: y = (x - mean) / sqrt(var + eps) · γ + β.
 * In training the batch's mean and biased variance are used, and the running statistics
 * (when given) move towards the batch's mean and unbiased variance by `momentum`.
 */
export class BatchNorm extends Function {
  static override forward(ctx: BatchNormCtx, input: NDArray, weight: NDArray | null, bias: NDArray | null, state: BatchNormState): NDArray {
    const x = kernels.packed(input).data;
    const [n, c, s] = lanes(input.shape);
    const m = n * s;
    const mean = new Float64Array(c);
    const invStd = new Float64Array(c);
    if (state.training) {
      const { runningMean, runningVar, momentum } = state;
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        for (let b = 0; b < n; b++) {
          const base = (b * c + ch) * s;
          for (let i = 0; i < s; i++) sum += x[base + i]!;
        }
        const mu = sum / m;
        let sq = 0;
        for (let b = 0; b < n; b++) {
          const base = (b * c + ch) * s;
          for (let i = 0; i < s; i++) {
            const d = x[base + i]! - mu;
            sq += d * d;
          }
        }
        const variance = sq / m;
        mean[ch] = mu;
        invStd[ch] = 1 / Math.sqrt(variance + state.eps);
        if (runningMean !== null && runningVar !== null) {
          const im = runningMean.offset + ch * (runningMean.stride[0] ?? 1);
          const iv = runningVar.offset + ch * (runningVar.stride[0] ?? 1);
          runningMean.data[im] = (1 - momentum) * runningMean.data[im]! + momentum * mu;
          runningVar.data[iv] = (1 - momentum) * runningVar.data[iv]! + momentum * (variance * m) / (m - 1);
        }
      }
    } else {
      const { runningMean, runningVar } = state as { runningMean: NDArray; runningVar: NDArray };
      for (let ch = 0; ch < c; ch++) {
        mean[ch] = runningMean.data[runningMean.offset + ch * (runningMean.stride[0] ?? 1)]!;
        invStd[ch] = 1 / Math.sqrt(runningVar.data[runningVar.offset + ch * (runningVar.stride[0] ?? 1)]! + state.eps);
      }
    }
    const gamma = weight === null ? null : kernels.packed(weight).data;
    const beta = bias === null ? null : kernels.packed(bias).data;
    const out = kernels.create(kernels.dtypeOf(input), input.shape);
    const o = out.data;
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < c; ch++) {
        const scale = invStd[ch]! * (gamma === null ? 1 : gamma[ch]!);
        const shift = (beta === null ? 0 : beta[ch]!) - mean[ch]! * scale;
        const base = (b * c + ch) * s;
        for (let i = 0; i < s; i++) o[base + i] = x[base + i]! * scale + shift;
      }
    }
    ctx.training = state.training;
    ctx.saveForBackward(input, wrap(mean), wrap(invStd), ...(weight === null ? [] : [weight]));
    return out;
  }

  static override backward(ctx: BatchNormCtx, g: NDArray): [NDArray | null, NDArray | null, NDArray | null, null] {
    const [input, meanNd, invStdNd, weight] = ctx.savedTensors as [NDArray, NDArray, NDArray, NDArray | undefined];
    const x = kernels.packed(input).data;
    const gp = kernels.packed(g).data;
    const mean = meanNd.data;
    const invStd = invStdNd.data;
    const gamma = weight === undefined ? null : kernels.packed(weight).data;
    const [n, c, s] = lanes(input.shape);
    const m = n * s;
    const dtype = kernels.dtypeOf(input);
    const sumG = new Float64Array(c);
    const sumGX = new Float64Array(c);
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (b * c + ch) * s;
        const mu = mean[ch]!;
        let sg = 0;
        let sgx = 0;
        for (let i = 0; i < s; i++) {
          const gi = gp[base + i]!;
          sg += gi;
          sgx += gi * (x[base + i]! - mu);
        }
        sumG[ch] = sumG[ch]! + sg;
        sumGX[ch] = sumGX[ch]! + sgx;
      }
    }
    let gradInput: NDArray | null = null;
    if (ctx.needsInputGrad[0]) {
      gradInput = kernels.create(dtype, input.shape);
      const o = gradInput.data;
      for (let b = 0; b < n; b++) {
        for (let ch = 0; ch < c; ch++) {
          const is = invStd[ch]!;
          const scale = is * (gamma === null ? 1 : gamma[ch]!);
          const base = (b * c + ch) * s;
          if (ctx.training) {
            // dx = γ·invStd·(g − mean(g) − x̂·mean(g·x̂)), with x̂ = (x − μ)·invStd.
            const meanG = sumG[ch]! / m;
            const k = (sumGX[ch]! * is * is) / m;
            const mu = mean[ch]!;
            for (let i = 0; i < s; i++) o[base + i] = scale * (gp[base + i]! - meanG - (x[base + i]! - mu) * k);
          } else {
            for (let i = 0; i < s; i++) o[base + i] = scale * gp[base + i]!;
          }
        }
      }
    }
    let gradWeight: NDArray | null = null;
    if (ctx.needsInputGrad[1]) {
      gradWeight = kernels.create(dtype, [c]);
      for (let ch = 0; ch < c; ch++) gradWeight.data[ch] = sumGX[ch]! * invStd[ch]!;
    }
    let gradBias: NDArray | null = null;
    if (ctx.needsInputGrad[2]) {
      gradBias = kernels.create(dtype, [c]);
      gradBias.data.set(sumG);
    }
    return [gradInput, gradWeight, gradBias, null];
  }
}

/** Batch normalisation over axis 1 of `input` [N, C, ...]; see BatchNorm2d for the module. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const op = "batchNorm";
  checkTensor(op, "input", input);
  if (input.ndim < 2) throw new ShapeError(`${op}: input must have at least 2 dimensions [N, C, ...], but got shape ${formatShape(input.shape)}`);
  const c = input.shape[1]!;
  const training = options.training ?? false;
  const momentum = options.momentum ?? 0.1;
  const eps = options.eps ?? 1e-5;
  checkNumber(op, "momentum", momentum, 0, 1);
  checkNumber(op, "eps", eps, 0, Infinity);
  const perChannel = (name: string, t: Tensor | null | undefined): Tensor | null => {
    if (t === null || t === undefined) return null;
    checkTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) {
      throw new ShapeError(`${op}: ${name} must have shape [${c}] (one value per channel of input ${formatShape(input.shape)}), but got ${formatShape(t.shape)}`);
    }
    return t;
  };
  const rm = perChannel("runningMean", runningMean);
  const rv = perChannel("runningVar", runningVar);
  if ((rm === null) !== (rv === null)) throw new ArgumentError(`${op}: runningMean and runningVar must be given together, but only one was`);
  if (!training && rm === null) throw new ArgumentError(`${op}: evaluation (training false) needs runningMean and runningVar`);
  if (training) {
    const perChannelCount = input.size / Math.max(c, 1);
    if (perChannelCount <= 1) {
      throw new ArgumentError(`${op}: expected more than 1 value per channel when training, but got input of shape ${formatShape(input.shape)}`);
    }
  }
  const weight = perChannel("weight", options.weight);
  const bias = perChannel("bias", options.bias);
  const state: BatchNormState = { runningMean: rm?.data ?? null, runningVar: rv?.data ?? null, training, momentum, eps };
  return BatchNorm.apply(input, weight, bias, state);
}

function lanes(shape: readonly number[]): [number, number, number] {
  let s = 1;
  for (let d = 2; d < shape.length; d++) s *= shape[d]!;
  return [shape[0]!, shape[1]!, s];
}

function wrap(values: Float64Array): NDArray {
  const out = kernels.create("float64", [values.length]);
  out.data.set(values);
  return out;
}
