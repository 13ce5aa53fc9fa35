import { ArgumentError, PicoError, Tensor, kernels, type NDArray } from "@pico/core";

export interface ClipGradNormOptions {
  /** The p of the p-norm over all gradients together: a number > 0, or Infinity for the largest absolute value. Default 2. */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it. Default false. */
  errorIfNonfinite?: boolean;
}

/** Calls fn(array, index) on every element of an ndarray, whatever its strides. */
function forEachIndex(a: NDArray, fn: (data: NDArray["data"], i: number) => void): void {
  const { shape, stride, offset, data } = a;
  const rank = shape.length;
  const size = shape.reduce((p, d) => p * d, 1);
  if (size === 0) return;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let n = 0; n < size; n++) {
    fn(data, at);
    for (let k = rank - 1; k >= 0; k--) {
      index[k]! += 1;
      at += stride[k]!;
      if (index[k]! < shape[k]!) break;
      at -= stride[k]! * shape[k]!;
      index[k] = 0;
    }
  }
}

function gradsOf(op: string, parameters: Tensor | Iterable<Tensor>): Tensor[] {
  const list = parameters instanceof Tensor ? [parameters] : [...parameters];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: parameters must be Tensors, but item ${i} is ${p === null ? "null" : typeof p}`);
  });
  // Read without taking them (kernels.peekGrad): the callers scale in place and keep none, so a .grad only
  // backward, clipping and the optimizer have seen still goes back to core's buffer pool when zeroGrad drops it.
  const grads: Tensor[] = [];
  for (const p of list) {
    const grad = kernels.peekGrad(p);
    if (grad !== null) grads.push(grad);
  }
  return grads;
}

/**
 * PyTorch's `clip_grad_norm_`: the p-norm of all the gradients of `parameters` taken together (as if
 * concatenated into one vector) is returned, and when it exceeds `maxNorm` every gradient is scaled in
 * place by maxNorm / (norm + 1e-6). Parameters without a gradient are skipped; none at all gives 0.
 */
export function clipGradNorm(parameters: Tensor | Iterable<Tensor>, maxNorm: number, options: ClipGradNormOptions = {}): number {
  const op = "clipGradNorm";
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm) || maxNorm < 0) throw new ArgumentError(`${op}: maxNorm must be a number >= 0, but got ${String(maxNorm)}`);
  const normType = options.normType ?? 2;
  if (typeof normType !== "number" || !(normType > 0)) throw new ArgumentError(`${op}: normType must be a number > 0 or Infinity, but got ${String(normType)}`);
  const grads = gradsOf(op, parameters);
  if (grads.length === 0) return 0;
  let total = 0;
  if (normType === Infinity) {
    for (const g of grads) {
      forEachIndex(g.data, (d, i) => {
        const v = Math.abs(d[i]!);
        if (v > total || Number.isNaN(v)) total = Number.isNaN(total) ? total : v;
      });
    }
  } else {
    // Each gradient's norm first, then the norm of those norms: torch's order of summation.
    let sum = 0;
    for (const g of grads) {
      let s = 0;
      forEachIndex(g.data, (d, i) => {
        s += Math.abs(d[i]!) ** normType;
      });
      sum += (s ** (1 / normType)) ** normType;
    }
    total = sum ** (1 / normType);
  }
  if (options.errorIfNonfinite === true && !Number.isFinite(total)) {
    throw new PicoError(
      `${op}: the total norm of order ${normType} of the gradients is ${total}, so they cannot be clipped (pass errorIfNonfinite: false to scale by it anyway)`,
    );
  }
  const coefficient = Math.min(maxNorm / (total + 1e-6), 1);
  // torch multiplies by the clamped coefficient always; a NaN or infinite norm spreads through the gradients as there.
  if (coefficient !== 1 || Number.isNaN(coefficient)) {
    for (const g of grads) {
      const c = g.data.data instanceof Float32Array ? Math.fround(coefficient) : coefficient;
      forEachIndex(g.data, (d, i) => {
        d[i] = d[i]! * c;
      });
      g.bumpVersion();
    }
  }
  return total;
}

/** PyTorch's `clip_grad_value_`: clamps every gradient of `parameters` into [-clipValue, clipValue] in place. */
export function clipGradValue(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  const op = "clipGradValue";
  if (typeof clipValue !== "number" || Number.isNaN(clipValue) || clipValue < 0) throw new ArgumentError(`${op}: clipValue must be a number >= 0, but got ${String(clipValue)}`);
  for (const g of gradsOf(op, parameters)) {
    forEachIndex(g.data, (d, i) => {
      const v = d[i]!;
      if (v > clipValue) d[i] = clipValue;
      else if (v < -clipValue) d[i] = -clipValue;
    });
    g.bumpVersion();
  }
}
