import { Function, kernels, tensor, type Context, type FloatArray, type NDArray, type Tensor } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";
import { classIndices, classTargets, classWeights, type ClassLayout } from "./class-targets.js";
import { checkReduction, type Reduction } from "./reduction.js";

export interface CrossEntropyOptions {
  /** A weight per class, shape [C]. */
  weight?: Tensor | null;
  /** Index targets equal to this contribute nothing, not even to the mean's denominator. Default -100. */
  ignoreIndex?: number;
  /** Default "mean": divided by the summed weights of the targets not ignored. */
  reduction?: Reduction;
  /** Mixes the one-hot target with the uniform distribution: (1 - ε)·onehot + ε / C. Default 0. */
  labelSmoothing?: number;
}

interface CrossEntropyPlan {
  layout: ClassLayout;
  weights: Float64Array | null;
  ignoreIndex: number;
  reduction: Reduction;
  smoothing: number;
}

type CrossEntropyCtx = Context & { plan: CrossEntropyPlan; indices: Int32Array; denominator: number };

/**
 * Log-softmax over the class axis fused with the negative log-likelihood of the target class.
 * Per position: loss = (1 − ε)·w[t]·(−log p[t]) + (ε / C)·Σ_c w[c]·(−log p[c]);
 * the gradient with respect to logit k is p[k]·((1 − ε)·w[t] + (ε / C)·Σ w) − (1 − ε)·w[t]·[k = t] − (ε / C)·w[k].
 * The class indices are an input (a tensor), so that a traced graph replays with each call's targets.
 */
export class CrossEntropy extends Function {
  static override forward(ctx: CrossEntropyCtx, logits: NDArray, target: NDArray, plan: CrossEntropyPlan): NDArray {
    const z = kernels.packed(logits).data;
    const { layout, weights, ignoreIndex, smoothing, reduction } = plan;
    const { n, c, s } = layout;
    const indices = classIndices("crossEntropy", target, c, ignoreIndex);
    const dtype = kernels.dtypeOf(logits);
    // Every position's probabilities are written (an ignored one's stay unread): no zero-fill needed.
    const probs = kernels.empty(dtype, logits.shape);
    const p = probs.data;
    // "none" keeps each position's loss (an ignored one's stays 0); "mean" and "sum" add them up in position
    // order as they come (skipping an ignored position's 0 changes no bit). exp(z − max) of one position's
    // classes is computed once: summed, then divided by the sum for p, in scratch reused from call to call.
    const kept = reduction === "none" ? kernels.create(dtype, targetShape(logits.shape)) : null;
    const e = scratch.exponentials(c);
    let total = 0;
    let denominator = 0;
    if (kept === null && weights === null && smoothing === 0 && s === 1) {
      total = plainRowsLoss(z, p, e, indices, n, c, ignoreIndex);
      for (let b = 0; b < n; b++) if (indices[b] !== ignoreIndex) denominator += 1;
    } else for (let b = 0; b < n; b++) {
      for (let j = 0; j < s; j++) {
        const row = b * s + j;
        const t = indices[row]!;
        if (t === ignoreIndex) continue;
        const base = b * c * s + j;
        let max = -Infinity;
        for (let k = 0, at = base; k < c; k++, at += s) if (z[at]! > max) max = z[at]!;
        let sum = 0;
        for (let k = 0, at = base; k < c; k++, at += s) {
          const ek = Math.exp(z[at]! - max);
          e[k] = ek;
          sum += ek;
        }
        const lse = max + Math.log(sum);
        for (let k = 0, at = base; k < c; k++, at += s) p[at] = e[k]! / sum;
        let smooth = 0;
        if (smoothing !== 0) {
          for (let k = 0, at = base; k < c; k++, at += s) smooth -= (weights === null ? 1 : weights[k]!) * (z[at]! - lse);
        }
        const wt = weights === null ? 1 : weights[t]!;
        const nll = -wt * (z[base + t * s]! - lse);
        const loss = (1 - smoothing) * nll + (smoothing / c) * smooth;
        if (kept === null) total += loss;
        else kept.data[row] = loss;
        denominator += wt;
      }
    }
    ctx.plan = plan;
    ctx.indices = indices;
    ctx.denominator = denominator;
    ctx.saveForBackward(probs);
    return kept ?? kernels.scalarArray(dtype, reduction === "sum" ? total : total / denominator);
  }

  static override backward(ctx: CrossEntropyCtx, g: NDArray): [NDArray, null, null] {
    const { layout, weights, ignoreIndex, reduction, smoothing } = ctx.plan;
    const indices = ctx.indices;
    const { n, c, s } = layout;
    const p = ctx.savedTensors[0]!.data;
    const gp = kernels.packed(g).data;
    const grad = kernels.create(kernels.dtypeOf(g), ctx.savedTensors[0]!.shape);
    const out = grad.data;
    const perPosition = reduction === "none";
    const reduced = perPosition ? 0 : reduction === "sum" ? gp[0]! : gp[0]! / ctx.denominator;
    if (weights === null && smoothing === 0) {
      // The general loop below with every weight 1 and ε = 0 (pull 1, uniform 0): the same bits, fewer operations.
      for (let b = 0; b < n; b++) {
        for (let j = 0; j < s; j++) {
          const row = b * s + j;
          const t = indices[row]!;
          if (t === ignoreIndex) continue;
          const scale = perPosition ? gp[row]! : reduced;
          const base = b * c * s + j;
          for (let k = 0, at = base; k < c; k++, at += s) out[at] = scale * p[at]!;
          out[base + t * s] = out[base + t * s]! - scale;
        }
      }
      return [grad, null, null];
    }
    let totalWeight = c;
    if (weights !== null) {
      totalWeight = 0;
      for (let k = 0; k < c; k++) totalWeight += weights[k]!;
    }
    const uniform = smoothing / c;
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < s; j++) {
        const row = b * s + j;
        const t = indices[row]!;
        if (t === ignoreIndex) continue;
        const scale = perPosition ? gp[row]! : reduced;
        const wt = weights === null ? 1 : weights[t]!;
        const pull = (1 - smoothing) * wt + uniform * totalWeight;
        const base = b * c * s + j;
        for (let k = 0, at = base; k < c; k++, at += s) {
          const wk = weights === null ? 1 : weights[k]!;
          out[at] = scale * (p[at]! * pull - uniform * wk);
        }
        out[base + t * s] = out[base + t * s]! - scale * (1 - smoothing) * wt;
      }
    }
    return [grad, null, null];
  }
}

/**
 * The forward's loop for [N, C] logits without class weights or label smoothing, reduced: the same
 * arithmetic in the same order (a position's loss −(z[t] − lse), as (1 − 0)·nll + 0 gives), without the
 * strides and the per-class weight and smoothing terms. Writes p and returns the positions' summed loss.
 */
function plainRowsLoss(z: FloatArray, p: FloatArray, e: Float64Array, indices: Int32Array, n: number, c: number, ignoreIndex: number): number {
  let total = 0;
  for (let b = 0, base = 0; b < n; b++, base += c) {
    const t = indices[b]!;
    if (t === ignoreIndex) continue;
    let max = -Infinity;
    for (let k = 0; k < c; k++) if (z[base + k]! > max) max = z[base + k]!;
    let sum = 0;
    for (let k = 0; k < c; k++) {
      const ek = Math.exp(z[base + k]! - max);
      e[k] = ek;
      sum += ek;
    }
    const lse = max + Math.log(sum);
    for (let k = 0; k < c; k++) p[base + k] = e[k]! / sum;
    total += -(z[base + t]! - lse);
  }
  return total;
}

/** The forward's scratch array, grown as needed and reused: a loss is computed on every training step. */
class CrossEntropyScratch {
  private exponentialsArray = new Float64Array(0);

  /** `length` elements of unspecified contents. */
  exponentials(length: number): Float64Array {
    if (this.exponentialsArray.length < length) this.exponentialsArray = new Float64Array(length);
    return this.exponentialsArray;
  }
}

const scratch = new CrossEntropyScratch();

/**
 * Cross-entropy between logits [N, C, d...] (or [C]) and targets, as torch.nn.functional.cross_entropy.
 * A target of shape [N, d...] (or []) holds class indices: values outside [0, C) that are not
 * ignoreIndex are an error. A target of the input's own shape holds class probabilities (soft labels).
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  checkOptions("crossEntropy", options, CROSS_ENTROPY_OPTIONS);
  return crossEntropyOf(input, target, options.weight ?? null, options.ignoreIndex ?? -100, options.reduction ?? "mean", options.labelSmoothing ?? 0);
}

const CROSS_ENTROPY_OPTIONS: readonly string[] = ["weight", "ignoreIndex", "reduction", "labelSmoothing"];

/**
 * crossEntropy with its options as arguments, checked the same way: CrossEntropyLoss's call on every
 * training step, without an options object to build and walk.
 */
export function crossEntropyOf(input: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number, reduction: Reduction, smoothing: number): Tensor {
  const op = "crossEntropy";
  checkReduction(op, reduction);
  checkNumber(op, "labelSmoothing", smoothing, 0, 1);
  checkTensor(op, "input", input);
  checkTensor(op, "target", target);
  if (input.ndim > 0 && kernels.sameShape(target.shape, input.shape)) {
    return softCrossEntropy(input, target, weight, reduction, smoothing);
  }
  const layout = classTargets(op, input, target, ignoreIndex);
  const weights = classWeights(op, weight, layout.c);
  return CrossEntropy.apply(input, target, { layout, weights, ignoreIndex, reduction, smoothing });
}

/**
 * −Σ_c w[c]·q[c]·log softmax(x)[c] per position, with q the target probabilities mixed with the
 * uniform distribution by labelSmoothing; "mean" divides by the number of positions, as PyTorch.
 */
function softCrossEntropy(input: Tensor, target: Tensor, weight: Tensor | null, reduction: Reduction, smoothing: number): Tensor {
  const axis = input.ndim === 1 ? 0 : 1;
  const c = input.shape[axis]!;
  const q = smoothing === 0 ? target : target.mul(1 - smoothing).add(smoothing / c);
  let weighted = input.logSoftmax(axis).mul(q);
  const weights = classWeights("crossEntropy", weight, c);
  if (weights !== null) {
    const shape = input.shape.map((d, i) => (i === axis ? d : 1));
    weighted = weighted.mul(tensor(Float64Array.from(weights), { shape, dtype: input.dtype }));
  }
  const losses = weighted.sum(axis).neg();
  if (reduction === "none") return losses;
  return reduction === "sum" ? losses.sum() : losses.mean();
}

/** The shape of a target for class scores of `shape`: without the class axis. */
export function targetShape(shape: readonly number[]): number[] {
  return shape.length === 1 ? [] : [shape[0]!, ...shape.slice(2)];
}

/** Per-position losses reduced as asked: kept (in the target's shape for class scores of `scoresShape`), summed, or divided by `denominator`. */
export function reduceLosses(losses: Float64Array, reduction: Reduction, denominator: number, dtype: "float32" | "float64", scoresShape: readonly number[]): NDArray {
  if (reduction === "none") {
    const out = kernels.create(dtype, targetShape(scoresShape));
    out.data.set(losses);
    return out;
  }
  let total = 0;
  for (let i = 0; i < losses.length; i++) total += losses[i]!;
  return kernels.scalarArray(dtype, reduction === "sum" ? total : total / denominator);
}
