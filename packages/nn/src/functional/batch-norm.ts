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
  /**
   * In training: the exchange through which `input`, one shard of a batch that several replicas normalise
   * at once, uses the whole batch's statistics and gradient sums (synchronized BatchNorm; DataParallel
   * passes one). The running statistics, when given, then move towards the whole batch's. Default none.
   */
  sync?: kernels.BatchNormSync | null;
  /**
   * The input gradient goes to the backward of the convolution that computed `input`, and to nothing else:
   * the WebAssembly kernel's backward leaves it in the kernel module, where that convolution's backward reads
   * it instead of copying it in (kernels.handOff). Only for a caller that knows nothing else reads `input`,
   * so that the autograd engine adds no other gradient into it in between (@pico/nn's Conv2d → BatchNorm2d
   * patterns). Default false.
   */
  handOffGradInput?: boolean;
}

/** @internal */
export interface BatchNormState {
  runningMean: NDArray | null;
  runningVar: NDArray | null;
  training: boolean;
  momentum: number;
  eps: number;
  /** Rectify the output in the same pass: relu(batchNorm(x)). */
  relu: boolean;
  sync: kernels.BatchNormSync | null;
  handOffGradInput: boolean;
}

/** @internal What a batch norm's forward leaves its backward (BatchNorm's and BatchNormAddRelu's). */
export type BatchNormCtx = Context & { kernel: kernels.BatchNormKernel; args: kernels.BatchNormKernelArgs; stats: Float64Array; affine: Float64Array };

/**
 * Normalises each channel (axis 1) of [N, C, ...]: y = (x - mean) / sqrt(var + eps) · γ + β, then
 * max(y, 0) when the state asks for the fused ReLU. In training the batch's mean and biased variance
 * are used, and the running statistics (when given) move towards the batch's mean and unbiased
 * variance by `momentum`. The kernel is the "batchNorm" family's choice (WebAssembly SIMD for float32
 * where it runs, split across `@pico/core/threads`; the reference loops otherwise), kept on ctx so that
 * backward runs the same one.
 */
export class BatchNorm extends Function {
  static override forward(ctx: BatchNormCtx, input: NDArray, weight: NDArray | null, bias: NDArray | null, state: BatchNormState): NDArray {
    return BatchNorm.forwardInto(ctx, undefined, input, weight, bias, state);
  }

  /**
   * forward writing into `into` (packed, of input's shape; a new array when undefined). A ctx used
   * again (a compiled graph's) keeps its statistics arrays.
   */
  static forwardInto(ctx: BatchNormCtx, into: NDArray | undefined, input: NDArray, weight: NDArray | null, bias: NDArray | null, state: BatchNormState): NDArray {
    const out = normalizeForward(ctx, into, input, weight, bias, state, null);
    // Backward reads only the input (the statistics and γ are copied into stats and affine), but saves γ and, in
    // evaluation, the running statistics as torch does, so that writing into them before backward raises as there.
    ctx.saveForBackward(input, ...watchedBy(weight, state));
    return out;
  }

  static override backward(ctx: BatchNormCtx, g: NDArray): [NDArray | null, NDArray | null, NDArray | null, null] {
    const { gradInput, gradWeight, gradBias } = normalizeBackward(ctx, g, null);
    return [gradInput, gradWeight, gradBias, null];
  }

  /**
   * backward of the gradient g + more[0] + ...: the output fed several calls (a residual block's input: the
   * skip's gradient and the branch's). The kernel adds the last part within its pass over g; the ones
   * before it (or operands it cannot take) are summed first.
   */
  static backwardParts(ctx: BatchNormCtx, g: NDArray, more: readonly NDArray[]): [NDArray | null, NDArray | null, NDArray | null, null] {
    // Summed in the engine's order, (g + more[0]) + more[1] ..., the last part left to the kernel.
    let [first, second] = [g, more.at(-1) ?? null];
    for (const part of more.slice(0, -1)) first = kernels.binary("add", first, part);
    if (second !== null && kernels.dtypeOf(second) !== kernels.dtypeOf(first)) [first, second] = [kernels.binary("add", first, second), null];
    const { gradInput, gradWeight, gradBias } = normalizeBackward(ctx, first, null, 1, 1, second);
    return [gradInput, gradWeight, gradBias, null];
  }
}

/** @internal γ and, in evaluation, the running statistics: what a batch norm's forward saves besides its input, as torch's does. */
export function watchedBy(weight: NDArray | null, state: BatchNormState): NDArray[] {
  return [weight, ...(state.training ? [] : [state.runningMean, state.runningVar])].filter((a): a is NDArray => a !== null);
}

/**
 * @internal The forward of BatchNorm (residual null) and BatchNormAddRelu (relu(bn(input) + residual), the
 * residual of input's shape and dtype): writes the output into `into` (or a new array) and leaves the kernel,
 * its arguments and the tables on ctx; saves nothing.
 */
export function normalizeForward(
  ctx: BatchNormCtx, into: NDArray | undefined, input: NDArray, weight: NDArray | null, bias: NDArray | null, state: BatchNormState, residual: NDArray | null,
): NDArray {
  const x = kernels.packed(input).data;
  const n = input.shape[0]!;
  const c = input.shape[1]!;
  const s = valuesPerImageChannel(input.shape);
  // Values per channel of the statistics: the whole batch's under a sync.
  let m = n * s;
  const shared = state.training ? state.sync : null;
  const sync: kernels.BatchNormSync | null =
    shared === null ? null : { statistics: (st, channels, count) => (m = shared.statistics(st, channels, count)), gradientSums: (...a) => shared.gradientSums(...a) };
  const args: kernels.BatchNormKernelArgs = {
    n, c, s, train: state.training, relu: state.relu, eps: state.eps,
    gamma: weight === null ? null : kernels.packed(weight).data,
    beta: bias === null ? null : kernels.packed(bias).data,
    sync,
    handOffGradInput: state.handOffGradInput,
    residual: residual === null ? null : kernels.packed(residual).data,
  };
  const stats = reusable(ctx.stats, 3 * c);
  const { runningMean, runningVar } = state;
  if (!state.training) {
    for (let ch = 0; ch < c; ch++) {
      stats[ch] = at(runningMean!, ch);
      stats[c + ch] = at(runningVar!, ch);
    }
  }
  const affine = reusable(ctx.affine, 3 * c);
  // Every element is written: no need to zero-fill a recycled buffer.
  const out = into ?? kernels.empty(kernels.dtypeOf(input), input.shape);
  let kernel = kernels.batchNormKernels.resolve().kernel;
  if (!kernel.forward(x, out.data, args, stats, affine)) {
    kernel = kernels.batchNormReference;
    kernel.forward(x, out.data, args, stats, affine);
  }
  if (state.training && runningMean !== null && runningVar !== null) {
    const { momentum } = state;
    for (let ch = 0; ch < c; ch++) {
      const im = runningMean.offset + ch * (runningMean.stride[0] ?? 1);
      const iv = runningVar.offset + ch * (runningVar.stride[0] ?? 1);
      runningMean.data[im] = (1 - momentum) * runningMean.data[im]! + momentum * stats[ch]!;
      runningVar.data[iv] = (1 - momentum) * runningVar.data[iv]! + (momentum * (stats[c + ch]! * m)) / (m - 1);
    }
  }
  // The residual is not kept: backward reads the output's mask.
  args.residual = null;
  ctx.kernel = kernel;
  ctx.args = args;
  ctx.stats = stats;
  ctx.affine = affine;
  return out;
}

/**
 * @internal The backward of normalizeForward given the input (ctx's first saved array) and, where the forward
 * had a residual, its output (`residualOutput`): the input gradient where argument 0 needs one, γ's and β's
 * where `weightAt` and weightAt + 1 do, and the residual's (gm) where `residualOutput` is given and argument
 * `residualAt` needs one; with `g2`, of the gradient g + g2.
 */
export function normalizeBackward(
  ctx: BatchNormCtx, g: NDArray, residualOutput: NDArray | null, weightAt = 1, residualAt = 1, g2: NDArray | null = null,
): { gradInput: NDArray | null; gradWeight: NDArray | null; gradBias: NDArray | null; gradResidual: NDArray | null } {
  const input = ctx.savedTensors[0]!;
  const { args, stats, affine } = ctx;
  const c = args.c;
  const dtype = kernels.dtypeOf(input);
  const x = kernels.packed(input).data;
  const gp = kernels.packed(g).data;
  const gradInput = ctx.needsInputGrad[0] ? kernels.empty(dtype, input.shape) : null;
  const gradResidual = residualOutput !== null && ctx.needsInputGrad[residualAt] ? kernels.empty(dtype, input.shape) : null;
  const residual = residualOutput === null ? null : { y: kernels.packed(residualOutput).data, grad: gradResidual?.data ?? null };
  const sums = new Float64Array(2 * c);
  const g2p = g2 === null ? null : kernels.packed(g2).data;
  if (!ctx.kernel.backward(x, gp, gradInput?.data ?? null, args, stats, affine, sums, residual, g2p)) {
    kernels.batchNormReference.backward(x, gp, gradInput?.data ?? null, args, stats, affine, sums, residual, g2p);
  }
  let gradWeight: NDArray | null = null;
  if (ctx.needsInputGrad[weightAt]) {
    gradWeight = kernels.create(dtype, [c]);
    for (let ch = 0; ch < c; ch++) gradWeight.data[ch] = sums[c + ch]! * stats[2 * c + ch]!;
  }
  let gradBias: NDArray | null = null;
  if (ctx.needsInputGrad[weightAt + 1]) {
    gradBias = kernels.create(dtype, [c]);
    gradBias.data.set(sums.subarray(0, c));
  }
  return { gradInput, gradWeight, gradBias, gradResidual };
}

/** Batch normalisation over axis 1 of `input` [N, C, ...]; see BatchNorm2d for the module. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  return batchNormImpl("batchNorm", input, runningMean, runningVar, options, false);
}

/**
 * @internal batchNorm's checks and running-statistics bookkeeping around `apply` (BatchNorm.apply by default;
 * batchNormAddRelu's Function), which gets the checked γ, β and the state.
 */
export function batchNormImpl(
  op: string, input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions, relu: boolean,
  apply: (weight: Tensor | null, bias: Tensor | null, state: BatchNormState) => Tensor = (weight, bias, state) => BatchNorm.apply(input, weight, bias, state),
): Tensor {
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
  const sync = options.sync ?? null;
  if (sync !== null && (typeof sync !== "object" || typeof sync.statistics !== "function" || typeof sync.gradientSums !== "function")) {
    throw new ArgumentError(`${op}: sync must be an object with statistics and gradientSums methods (kernels.BatchNormSync) or null, but got ${typeof sync}`);
  }
  // Under a sync the input is one shard: the whole batch's count is the sync's to check.
  if (training && sync === null) {
    const perChannelCount = input.size / Math.max(c, 1);
    if (perChannelCount <= 1) {
      throw new ArgumentError(`${op}: expected more than 1 value per channel when training, but got input of shape ${formatShape(input.shape)}`);
    }
  }
  const weight = perChannel("weight", options.weight);
  const bias = perChannel("bias", options.bias);
  const handOffGradInput = options.handOffGradInput ?? false;
  if (typeof handOffGradInput !== "boolean") throw new ArgumentError(`${op}: handOffGradInput must be a boolean, but got ${typeof handOffGradInput} ${String(handOffGradInput)}`);
  const state: BatchNormState = { runningMean: rm?.data ?? null, runningVar: rv?.data ?? null, training, momentum, eps, relu: relu === true, sync, handOffGradInput };
  const out = apply(weight, bias, state);
  if (training && rm !== null && rv !== null) {
    // Written in place: a graph that saved them refuses to backpropagate (torch's own update does not bump its counters: see the README).
    rm.bumpVersion();
    rv.bumpVersion();
  }
  return out;
}

/**
 * relu(batchNorm(input, ...)) in one pass over the batch (and one in backward): the same values and
 * gradients as the two operators, without materialising the normalised tensor. What the fusion
 * patterns run for BatchNorm → ReLU (see fusion/patterns.ts).
 */
export function batchNormRelu(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  return batchNormImpl("batchNormRelu", input, runningMean, runningVar, options, true);
}

/** The values per image and channel of [N, C, ...]: the product of the axes after the channels. */
function valuesPerImageChannel(shape: readonly number[]): number {
  let s = 1;
  for (let d = 2; d < shape.length; d++) s *= shape[d]!;
  return s;
}

function at(a: NDArray, i: number): number {
  return a.data[a.offset + i * (a.stride[0] ?? 1)]!;
}

/** `previous` zeroed when it has `length` elements, else a new zeroed array. */
function reusable(previous: Float64Array | undefined, length: number): Float64Array {
  if (previous === undefined || previous.length !== length) return new Float64Array(length);
  return previous.fill(0);
}
