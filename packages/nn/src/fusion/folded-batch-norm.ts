import { kernels, noGrad, tracer, type FloatArray, type NDArray, type Tensor } from "@pico/core";
import type { BatchNormBase } from "../layers/batch-norm.js";
import type { Conv2d } from "../layers/conv2d.js";
import { foldBatchNorm } from "./fold-batch-norm.js";

/** What one folded weight and bias were computed from: each source tensor, its array and buffer, and the buffer's version. */
interface Folded {
  readonly folded: { readonly weight: Tensor; readonly bias: Tensor };
  readonly eps: number;
  readonly sources: readonly (Tensor | null)[];
  readonly arrays: readonly (NDArray | null)[];
  readonly buffers: readonly (FloatArray | null)[];
  readonly versions: readonly number[];
}

// Per convolution, per BatchNorm: weak both ways, so an entry goes with either module.
const cache = new WeakMap<Conv2d, WeakMap<BatchNormBase, Folded>>();

function sourcesOf(conv: Conv2d, bn: BatchNormBase): (Tensor | null)[] {
  return [conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var];
}

function current(entry: Folded, sources: readonly (Tensor | null)[], eps: number): boolean {
  if (entry.eps !== eps) return false;
  for (let i = 0; i < sources.length; i++) {
    const t = sources[i]!;
    if (t !== entry.sources[i]) return false;
    if (t === null) continue;
    // The array object, its buffer, and the buffer's in-place writes (optimizer steps, loadStateDict,
    // running statistics updated by a training forward, init functions, bumpVersion after a direct write).
    if (t.data !== entry.arrays[i] || t.data.data !== entry.buffers[i] || t.version !== entry.versions[i]) return false;
  }
  return true;
}

/**
 * foldBatchNorm(conv.weight, conv.bias, bn), computed once and kept until anything it was computed from
 * changes: a parameter or running statistic replaced (another tensor, another array as `to(dtype)`
 * makes, or null) or written in place (its version: optimizer steps, loadStateDict, a training-mode
 * forward's running statistics, init functions, `bumpVersion()` after a direct write), or `bn.eps`.
 * The folded weight is declared constant to the convolution kernels (kernels.keepPrepared), which then
 * keep its Winograd transform across calls too. Cached only where the fold is a constant to its caller: under noGrad or while none of the four
 * parameters requires grad (otherwise the fold is recorded, so that gradients reach W, b, γ and β,
 * and computed anew), and never while a trace records the call (compile then caches the fold itself
 * as a node no input reaches, refreshed when a parameter's version changes).
 */
export function foldedBatchNorm(conv: Conv2d, bn: BatchNormBase): { readonly weight: Tensor; readonly bias: Tensor } {
  const sources = sourcesOf(conv, bn);
  const constant = tracer.blind || !sources.some((t, i) => i < 4 && t !== null && t.requiresGrad);
  if (!constant || tracer.observer !== null) return foldBatchNorm(conv.weight, conv.bias, bn);
  let byBn = cache.get(conv);
  const entry = byBn?.get(bn);
  if (entry !== undefined && current(entry, sources, bn.eps)) return entry.folded;
  const folded = noGrad(() => foldBatchNorm(conv.weight, conv.bias, bn));
  // No one writes the folded weight: the convolution may keep it as its kernel prepares it (Winograd's transform).
  const weights = folded.weight.data.data;
  if (weights instanceof Float32Array) kernels.keepPrepared(weights);
  if (byBn === undefined) {
    byBn = new WeakMap();
    cache.set(conv, byBn);
  }
  byBn.set(bn, {
    folded,
    eps: bn.eps,
    sources,
    arrays: sources.map((t) => (t === null ? null : t.data)),
    buffers: sources.map((t) => (t === null ? null : t.data.data)),
    versions: sources.map((t) => (t === null ? -1 : t.version)),
  });
  return folded;
}

/** Drops the fold kept for `conv` and `bn` (the pattern calls it when it sees the BatchNorm in training mode). */
export function forgetFoldedBatchNorm(conv: Conv2d, bn: BatchNormBase): void {
  cache.get(conv)?.delete(bn);
}
