import ops from "ndarray-ops";
import { dtypeOf, type NDArray } from "./dtype.js";
import { GraphError, formatShape } from "./errors.js";
import { trackBirths } from "./buffer-pool.js";
import { describe, isNdArray, isTensor, type FunctionClass } from "./function.js";
import { GradientBuffers } from "./gradient-buffers.js";
import { binary } from "./kernels/elementwise.js";
import { withdrawOffer } from "./kernels/wasm/handoff.js";
import { residentBackwardEnded } from "./kernels/wasm/resident-storage.js";
import { copy, empty, isContiguous, isPacked } from "./ndarray-utils.js";
import { sameShape } from "./shape.js";
import { bumpVersion } from "./version.js";
import type { Tensor } from "./tensor.js";
import { tracer, type CallRecord } from "./tracer.js";
import { peekGrad, setUnseenGrad } from "./unseen-grad.js";

const RELEASED =
  "backward: the graph behind this tensor was already released by an earlier backward(); " +
  "pass { retainGraph: true } to the first backward() to run backward through it again";

/**
 * Reverse-mode differentiation from `root`: runs the recorded calls that lead to it in reverse
 * recording order (a reverse topological order), summing gradients where a tensor feeds several
 * calls, then adds the results into `.grad` of leaves and retained tensors. Unless the graph is
 * retained, gradient buffers the pass allocated itself go back to the buffer pool once consumed, and so
 * do the arrays released calls kept private (see GradientBuffers, Tracer.keepPrivate).
 */
export function runBackward(root: Tensor, rootGrad: NDArray, retainGraph: boolean, wrap: (data: NDArray) => Tensor): void {
  const calls = reachableCalls(root);
  // A consumed gradient's entry is set to null rather than deleted: deleting most entries of a Map makes
  // V8 shrink (reallocate) its table again and again during the pass.
  const grads = new Map<Tensor, NDArray | null>();
  grads.set(root, rootGrad);
  // Gradient parts beyond grads' first, kept apart for a creator that adds them itself (FunctionClass.backwardParts).
  const parts = new Map<Tensor, NDArray[]>();
  const buffers = retainGraph ? null : new GradientBuffers();
  const pass = (): void => {
    buffers?.hold(rootGrad);
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c]!;
      const output = call.output!;
      const g = grads.get(output);
      if (g !== undefined && g !== null) {
        if (!output.retain) grads.set(output, null);
        const more = parts.get(output);
        parts.delete(output);
        propagate(call, g, more, grads, parts, buffers, rootGrad);
        if (!output.retain) buffers?.drop(g);
        if (more !== undefined && buffers !== null) for (let i = 0; i < more.length; i++) buffers.drop(more[i]!);
      }
      if (buffers !== null) {
        const privates = tracer.takePrivate(call.ctx!);
        tracer.release(call);
        for (let i = 0; i < privates.length; i++) buffers.dropPrivate(privates[i]!);
      }
    }
    // forEach, not for-of: no [tensor, gradient] array per entry.
    grads.forEach((g, t) => {
      if (g === null) return;
      if (t.creator === null || t.retain) {
        // A gradient only the engine sees becomes .grad itself, as torch's AccumulateGrad steals a buffer nobody else holds.
        if (peekGrad(t) === null && buffers !== null && buffers.exclusive(g) && dtypeOf(g) === t.dtype) {
          buffers.release(g);
          setUnseenGrad(t, wrap(g));
          return;
        }
        accumulateGrad(t, g, wrap);
      }
      buffers?.drop(g);
    });
  };
  // A kernel's offer lives within one pass (kernels/wasm/handoff.ts).
  withdrawOffer();
  try {
    if (buffers === null) pass();
    else trackBirths(buffers.births, pass);
  } finally {
    withdrawOffer();
  }
  // The end of a step: what resident storage still holds now piles up between steps.
  if (buffers !== null) residentBackwardEnded();
}

/** The last number a walk of reachableCalls marked its calls with (CallRecord.walk); each walk takes the next. */
let lastWalk = 0;

function reachableCalls(root: Tensor): CallRecord[] {
  if (root.creator === null) return [];
  // Calls seen by this walk carry its number, instead of going into a Set.
  const walk = ++lastWalk;
  const found: CallRecord[] = [];
  const stack: CallRecord[] = [root.creator];
  while (stack.length > 0) {
    const call = stack.pop()!;
    if (call.walk === walk) continue;
    if (call.released) throw new GraphError(RELEASED);
    call.walk = walk;
    found.push(call);
    const inputs = call.inputs!;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      if (isTensor(input) && input.requiresGrad && input.creator !== null && input.creator.walk !== walk) stack.push(input.creator);
    }
  }
  return sortNewestFirst(found);
}

/** Below this many calls, sortNewestFirst sorts by insertion (Array.prototype.sort copies the array into a work area). */
const INSERTION_SORT_CALLS = 64;

/** Sorts calls by descending id (reverse recording order) in place. */
function sortNewestFirst(calls: CallRecord[]): CallRecord[] {
  if (calls.length > INSERTION_SORT_CALLS) return calls.sort(newestFirst);
  for (let i = 1; i < calls.length; i++) {
    const call = calls[i]!;
    let j = i - 1;
    while (j >= 0 && calls[j]!.id < call.id) {
      calls[j + 1] = calls[j]!;
      j--;
    }
    calls[j + 1] = call;
  }
  return calls;
}

const newestFirst = (x: CallRecord, y: CallRecord): number => y.id - x.id;

function propagate(
  call: CallRecord, g: NDArray, more: readonly NDArray[] | undefined, grads: Map<Tensor, NDArray | null>, parts: Map<Tensor, NDArray[]>,
  buffers: GradientBuffers | null, rootGrad: NDArray,
): void {
  const { fn } = call;
  const inputs = call.inputs!;
  const ctx = call.ctx!;
  checkSavedVersions(call);
  const result = more === undefined ? fn.backward(ctx, g) : fn.backwardParts!(ctx, g, more);
  // A lone gradient is read as a list of one, without wrapping it in an array.
  const list = Array.isArray(result) ? (result as ReadonlyArray<unknown>) : null;
  const returned = list === null ? 1 : list.length;
  if (returned !== inputs.length) {
    throw new GraphError(
      `${fn.name}.backward returned ${returned} gradient(s), but ${fn.name}.apply received ${inputs.length} argument(s); ` +
        `return one gradient (or null) per argument`,
    );
  }
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (!isTensor(input) || !ctx.needsInputGrad[i]) continue;
    const gi = list === null ? result : list[i];
    if (!isNdArray(gi)) {
      const hint = isTensor(gi) ? "; backward works on ndarrays: return the Tensor's .data" : "";
      throw new GraphError(`${fn.name}.backward must return a gradient for argument ${i}, which requires grad, but returned ${describe(gi)}${hint}`);
    }
    if (!sameShape(gi.shape, input.shape)) {
      throw new GraphError(
        `${fn.name}.backward returned a gradient of shape ${formatShape(gi.shape)} for argument ${i}, ` +
          `whose shape is ${formatShape(input.shape)}; gradients must have their input's shape`,
      );
    }
    // A backward that wrote into its incoming gradient and returned it (g.data[i] *= 2; return [g]) wrote in
    // place: the bump voids a kernel's offer of g's old contents (kernels/wasm/handoff.ts). Not the
    // caller's own backward(grad) array, which may be saved by a forward (a view passed through is no write).
    if ((gi.data === g.data || (more !== undefined && someShares(more, gi))) && gi.data !== rootGrad.data) bumpVersion(gi);
    // A gradient has its input's dtype, as torch's engine casts it (a float32 input of a float64 product gets a float32 gradient).
    const gt = dtypeOf(gi) === input.dtype ? gi : copy(gi, input.dtype);
    const previous = grads.get(input) ?? undefined;
    if (previous !== undefined && !input.retain && input.creator !== null && takesParts(input.creator.fn) && dtypeOf(previous) === dtypeOf(gt)) {
      // Its creator adds the parts within its own backward: no sum here.
      const list = parts.get(input);
      if (list === undefined) parts.set(input, [gt]);
      else list.push(gt);
      buffers?.hold(gt);
      if (gt !== gi) buffers?.discard(gi);
      continue;
    }
    if (previous !== undefined && buffers !== null && buffers.exclusive(previous)) {
      // Nothing but this entry sees the running sum: add into it instead of allocating another.
      addInto(previous, gt);
      if (gt !== gi) buffers.discard(gi);
      buffers.discard(gt);
      continue;
    }
    const sum = previous === undefined ? gt : binary("add", previous, gt);
    grads.set(input, sum);
    if (buffers === null) continue;
    buffers.hold(sum);
    if (gt !== gi) buffers.discard(gi);
    if (previous !== undefined) {
      buffers.drop(previous);
      buffers.discard(gt);
    }
  }
}

/** Whether one of `parts` is over `a`'s buffer. */
function someShares(parts: readonly NDArray[], a: NDArray): boolean {
  for (let i = 0; i < parts.length; i++) if (parts[i]!.data === a.data) return true;
  return false;
}

/**
 * Whether `fn` takes its output's gradient in parts: it has a backwardParts, defined by the same class in
 * its prototype chain as the backward it would run otherwise (a subclass overriding backward alone must
 * get its own backward, not the backwardParts it inherits).
 */
function takesParts(fn: FunctionClass): boolean {
  return fn.backwardParts !== undefined && owner(fn, "backwardParts") === owner(fn, "backward");
}

/** The object in `fn`'s prototype chain (fn itself or a superclass) that defines `name`. */
function owner(fn: FunctionClass, name: "backward" | "backwardParts"): object | null {
  for (let o: object | null = fn; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    if (Object.prototype.hasOwnProperty.call(o, name)) return o;
  }
  return null;
}

/** PyTorch's rule: a backward must not run on a saved array that an in-place write changed after the forward. */
function checkSavedVersions(call: CallRecord): void {
  const modified = call.ctx!.modifiedSaved();
  if (modified === null) return;
  const { index, array, saved, now } = modified;
  const input = call.inputs!.findIndex((t) => isTensor(t) && t.data.data === array.data);
  const which =
    input >= 0
      ? `argument ${input} of ${call.fn.name}`
      : call.output?.data.data === array.data
        ? `the output of ${call.fn.name}`
        : `saved array ${index} of ${call.fn.name}`;
  throw new GraphError(
    `backward: one of the variables needed for gradient computation has been modified by an inplace operation: ` +
      `the ${dtypeOf(array)} array of shape ${formatShape(array.shape)} (${which}) is at version ${now}; expected version ${saved} instead. ` +
      `Something wrote into it after the forward pass (an optimizer step, say); run the forward pass again before this backward`,
  );
}

/** sum += g elementwise, sum packed and of g's shape and dtype; g may be strided (a broadcast view). */
function addInto(sum: NDArray, g: NDArray): void {
  // An in-place write: voids a kernel's offer of sum's old contents (kernels/wasm/handoff.ts).
  bumpVersion(sum);
  addValues(sum, g);
}

/** addInto's sum without the version bump. */
function addValues(sum: NDArray, g: NDArray): void {
  if (!isPacked(g) || !isPacked(sum)) {
    ops.addeq(sum, g);
    return;
  }
  if (sum.data instanceof Float32Array && g.data instanceof Float32Array) addFloat32(sum.data, g.data);
  else if (sum.data instanceof Float64Array && g.data instanceof Float64Array) addFloat64(sum.data, g.data);
  else ops.addeq(sum, g);
}

// One loop per array type, so that the JIT keeps each monomorphic. Eight elements per turn: the
// residual block's 1M-element sum takes 1.05 ms instead of 2.07 with one (cold caches, median of 30).
function addFloat32(s: Float32Array, g: Float32Array): void {
  const n = s.length;
  // The tail loop below takes 1 to 8 elements (never none, for n > 0), and n8 is computed without a
  // branch: code that some calls skip has no type feedback when the function is optimized, and the
  // optimized code deoptimizes the first time it runs. After such a deopt V8 took hundreds of training
  // steps to optimize this function again (each call ran its first iterations unoptimized, boxing every
  // sum, before entering the loop's on-stack-replacement code): 3.5 KB of garbage a step on the
  // reference network, 60 KB on the CIFAR-shaped one.
  const n8 = ((n - 1) >> 3) << 3;
  let i = 0;
  for (; i < n8; i += 8) {
    s[i] = s[i]! + g[i]!;
    s[i + 1] = s[i + 1]! + g[i + 1]!;
    s[i + 2] = s[i + 2]! + g[i + 2]!;
    s[i + 3] = s[i + 3]! + g[i + 3]!;
    s[i + 4] = s[i + 4]! + g[i + 4]!;
    s[i + 5] = s[i + 5]! + g[i + 5]!;
    s[i + 6] = s[i + 6]! + g[i + 6]!;
    s[i + 7] = s[i + 7]! + g[i + 7]!;
  }
  for (; i < n; i++) s[i] = s[i]! + g[i]!;
}

function addFloat64(s: Float64Array, g: Float64Array): void {
  for (let i = 0; i < s.length; i++) s[i] = s[i]! + g[i]!;
}

/** Adds g into t's .grad (read with peekGrad: the add keeps no reference), or sets it to a fresh copy that only the engine has seen. */
function accumulateGrad(t: Tensor, g: NDArray, wrap: (data: NDArray) => Tensor): void {
  const grad = peekGrad(t);
  if (grad === null) {
    const transposed = g.shape.length === 2 && !isContiguous(g) && dtypeOf(g) === t.dtype;
    setUnseenGrad(t, wrap(transposed ? copyMatrix(g) : copy(g, t.dtype)));
  } else {
    // No version bump: an offer of this array's old values ends with the pass (withdrawOffer in runBackward).
    // Packed float arrays of one dtype are added by loop: no ndarray-ops call objects on every step of a
    // loop that keeps its gradients (zeroGrad({ setToNone: false }) in @pico/optim).
    if (dtypeOf(grad.data) === dtypeOf(g) && sameShape(grad.data.shape, g.shape)) addValues(grad.data, g);
    else ops.addeq(grad.data, g);
  }
}

const TILE = 16;

/**
 * A packed copy of a strided rank-2 view, tile by tile, so that a transposed view (a linear layer's
 * weight gradient arrives through its transpose) is read a few cache lines at a time: the reference
 * network's fc1 gradient (120x256) 0.096 -> 0.060 ms against ndarray-ops' assign, cold caches.
 */
function copyMatrix(g: NDArray): NDArray {
  const [rows, cols] = g.shape as [number, number];
  const [sr, sc] = g.stride as [number, number];
  const src = g.data;
  const out = empty(dtypeOf(g), [rows, cols]);
  const dst = out.data;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        let s = g.offset + r * sr + c0 * sc;
        let o = r * cols + c0;
        for (let c = c0; c < c1; c++, s += sc) dst[o++] = src[s]!;
      }
    }
  }
  return out;
}
