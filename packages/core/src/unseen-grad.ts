import { ordinaryStorage, recycle } from "./buffer-pool.js";
import type { FloatArray } from "./dtype.js";
import type { Tensor } from "./tensor.js";

// A `.grad` the backward engine made (its own buffer handed over, or a fresh copy) is "unseen" until code
// outside the engine reads it: the Tensor's `grad` getter is the only way to reach it, so while no getter
// has returned it, nothing but the tensor references its array. Such a .grad
// - may stay in the threads' shared WebAssembly memory (resident storage): the optimizer's threaded
//   update reads it in place, where a .grad in ordinary memory is copied in every step;
// - goes back to the buffer pool (or its region to resident storage) when it is dropped (zeroGrad's
//   setToNone, `t.grad = null`), so the next backward's gradients take its memory instead of new arrays.
//   Without this, every step made the reference network's 146 KB of gradients afresh (fc1's 123 KB
//   copied out of the shared memory), whose growth outside the JavaScript heap set off full collections.
// Only the .grad of a tensor an optimizer's step read since its last .grad was made (peekGradForStep)
// stays resident: any other .grad (an input that requires grad, a retained intermediate, a parameter no
// optimizer steps any more) moves to ordinary memory when backward makes it, as a read would move it;
// nothing may drop it, and its region would come back only through the collector and a finalizer, so the
// shared memory would fill up step by step. It is still unseen, and goes back to the buffer pool when dropped.
// The first read through the getter makes it the reader's: a resident one moves to ordinary memory then
// (a .grad a user holds outlives the step, and a region comes back only when the collector finds the
// array and the event loop runs its finalizer), and it is never recycled. Code that reads a .grad and
// keeps no reference to it or its array past its own work (the engine's accumulation, zeroGrad's fill,
// an optimizer's update by core's kernels) reads it with peekGrad instead, which leaves it unseen.

/** Tensor's private .grad slot, as tensor.ts registers it once. */
export interface GradSlot {
  peek(t: Tensor): Tensor | null;
  /** Sets t's .grad (null before) to `g`, an array only the engine has seen. */
  setUnseen(t: Tensor, g: Tensor): void;
}

let slot: GradSlot | null = null;

/** Called once by tensor.ts, which keeps the .grad in private fields. */
export function registerGradSlot(s: GradSlot): void {
  slot = s;
}

/**
 * `t.grad` without making it the caller's: for code that keeps no reference to it, its ndarray or its
 * array once its own work is done (an optimizer whose update runs through core's "optimizer" kernels).
 * A .grad read this way can still go back to the buffer pool when it is dropped.
 */
export function peekGrad(t: Tensor): Tensor | null {
  return slot!.peek(t);
}

/**
 * Per tensor, whether an optimizer's step has read its .grad with peekGradForStep since backward last
 * made one for it: true from such a step until the next .grad backward makes for the tensor, which may
 * then stay resident (and the mark is spent). Each step renews it, so a parameter stepped every step keeps
 * its .grad where the threaded update reads it from its second step on; a parameter no such step reads any
 * more (taken out of its optimizer, or stepped by an optimizer that reads through the getter) gets one more
 * resident .grad (which stays until it is read or dropped, accumulated in place meanwhile), and an
 * ordinary one from the next backward that makes one on, as any other tensor. A WeakMap of booleans, set
 * in place: nothing allocated per step.
 */
const stepped = new WeakMap<Tensor, boolean>();

/**
 * peekGrad for an optimizer's step that updates `t` in place through core's "optimizer" kernels and keeps
 * no gradient: the next .grad backward makes for `t` may stay in the threads' shared memory, where the
 * threaded update reads it without a copy (zeroGrad drops it before the following backward).
 */
export function peekGradForStep(t: Tensor): Tensor | null {
  if (stepped.get(t) !== true) stepped.set(t, true);
  return slot!.peek(t);
}

/** The engine sets t's .grad (null before) to `g`, whose array nobody else references. */
export function setUnseenGrad(t: Tensor, g: Tensor): void {
  if (stepped.get(t) === true) stepped.set(t, false);
  else toOrdinaryStorage(g);
  slot!.setUnseen(t, g);
}

/** An unseen .grad is about to be returned by the getter: a resident array moves to ordinary memory (its region given back). */
export function revealGrad(g: Tensor): void {
  toOrdinaryStorage(g);
}

function toOrdinaryStorage(g: Tensor): void {
  const array = g.data.data;
  const moved = ordinaryStorage(array);
  if (moved !== array) (g.data as { data: FloatArray }).data = moved;
}

/** An unseen .grad was dropped: its array goes back to the buffer pool (a resident one's region to resident storage). */
export function giveBackGrad(g: Tensor): void {
  recycle(g.data.data);
}
