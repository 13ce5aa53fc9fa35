import { versionOf } from "../../version.js";
import type { WasmMemory } from "./wasm-api.js";

// A kernel's output left in the module's memory for the kernel that reads it next, so that the second
// does not copy it in again (a convolution's output, which the BatchNorm after it normalises: 8 MB a
// layer of the CIFAR-shaped network's training step; in its backward, the BatchNorm's input gradient,
// which the convolution's backward reads, and the convolution's or max pooling's input gradient, which
// the BatchNorm's backward before it reads). A kernel offers only inside handOff, or when its caller
// arms it explicitly (the kernels' `handOffGradInput` option): a caller that knows the array goes to the
// next kernel alone. In backward only the fusion patterns know that (nn's fusion/patterns.ts: the input
// of a convolution or a max pooling that nothing but it reads, so its gradient goes to the backward of
// what made it alone); a kernel never arms itself. On top of that, one kernel may offer its output and
// the next may take it only while nothing wrote into the array (an in-place write bumps its version: the
// autograd engine's in-place gradient sums, a backward's write into the gradient it was given and
// returns, the buffer pool when an array comes back to it) and within the autograd pass that made it
// (withdrawOffer). Every kernel lays out its memory from heapBase, and asking for heapBase (as well as
// taking a resident region) counts as touching the memory: an offer is good only until the memory is
// touched after it, and only for the same array object, offset, length and version.

interface Offer {
  memory: WasmMemory;
  array: Float32Array;
  offset: number;
  length: number;
  /** Byte address of the copy in the module's memory. */
  at: number;
  version: number;
}

let offering = false;
let offer: Offer | null = null;
const counts = { offered: 0, taken: 0 };

/** How many offers kernels made and how many were taken since the process started (to check where a hand-off happens). */
export function handOffCounts(): { offered: number; taken: number } {
  return { ...counts };
}

/** Every layout of the module's memory calls this first (heapBase, takeResident): offers made before it are void. */
export function memoryTouched(): void {
  offer = null;
}

/**
 * Voids any offer: the autograd engine's passes call it as they start and end, so that an offer made in one
 * pass (a convolution's input gradient that became a leaf's .grad) is never taken after the caller wrote
 * into that array without a version bump.
 */
export function withdrawOffer(): void {
  offer = null;
}

/**
 * Runs `produce`, whose kernels may leave their output in the module's memory, then `consume` on its
 * result, whose first kernel may read that output where it is instead of copying it in. Nothing runs
 * between the two but this function; an offer not taken is dropped.
 */
export function handOff<T, U>(produce: () => T, consume: (produced: T) => U): U {
  if (offering) return consume(produce());
  offering = true;
  let produced: T;
  try {
    produced = produce();
  } finally {
    offering = false;
  }
  try {
    return consume(produced);
  } finally {
    offer = null;
  }
}

/**
 * Called by a kernel right after it copied array[offset, offset + length) out of `memory` at byte
 * address `at` (and touched the memory no more): inside handOff's `produce`, or where its caller said
 * that nothing but the kernel that reads the array next sees it (`armed`, the kernel's
 * `handOffGradInput` option), the next kernel may read it there.
 */
export function offerOutput(memory: WasmMemory, array: Float32Array, offset: number, length: number, at: number, armed = offering): void {
  offer = armed ? { memory, array, offset, length, at, version: versionOf(array) } : null;
  if (armed) counts.offered++;
}

/**
 * Where `memory` still holds array[offset, offset + length) as offered, or -1: to be asked before the
 * kernel lays out its memory (asking for heapBase voids the offer). Takes the offer.
 */
export function takeOutput(memory: WasmMemory, array: Float32Array, offset: number, length: number): number {
  const o = offer;
  offer = null;
  if (o === null || o.memory !== memory || o.array !== array || o.offset !== offset || o.length !== length) return -1;
  if (versionOf(array) !== o.version) return -1;
  counts.taken++;
  return o.at;
}
