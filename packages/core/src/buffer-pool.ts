import type { DType, FloatArray } from "./dtype.js";
import { bumpVersion } from "./version.js";

// Typed arrays handed back by code that can prove nobody references them any more (the backward
// engine's own gradient buffers, buffers private to a released call), reused by `allocate` for the
// next array of the same dtype and length. Training allocates the same sizes every step, so reuse
// saves the allocator's page faults and keeps dead buffers from piling up between garbage collections.

/**
 * Smaller arrays are cheap to allocate and not worth holding. At 16 KB, a data-parallel shard of 32 rows
 * of the reference network (whose layers' outputs and small gradients fall under it) made 85 KB of new
 * arrays a step outside the heap on the calling thread, and a mark-compact every 100-150 steps; at 4 KB,
 * 8 KB and a scavenge every 150 steps (bench/scripts/allocation-per-step.mjs --replicas 2).
 */
export const MIN_POOLED_BYTES = 4 * 1024;
/**
 * The pool never holds more than this, so buffers nobody asks for again cost at most this much. A
 * training step's recycled gradients and intermediates must fit, or every step allocates them afresh
 * (page faults, then garbage collection); so must an inference call's, or the sizes recycled last in a
 * call evict those its next call needs first, and nearly every array is fresh again. The CIFAR-shaped
 * network recycles 95 MiB per training step at batch 64 and 124 MiB per inference call at batch 256.
 */
export const MAX_POOLED_BYTES = 160 * 1024 * 1024;
/**
 * Arrays held per dtype and length: a network repeats its activation shapes layer after layer. The CIFAR
 * network's residual stage holds 9 arrays of its size at once in backward (six saved activations, the
 * incoming gradient and the fused BatchNormAddRelu's two gradients): with 8, one 4 MB array a step came
 * afresh (breakdown, 1 thread: that backward 4.2 ms, 2.0 with room for it).
 */
export const MAX_PER_SIZE = 12;

/** The arrays held for one dtype and length, and when that size was last taken or given (for eviction). */
interface SizeClass {
  readonly arrays: FloatArray[];
  lastUse: number;
}

// Recency as a counter, not by moving the size to the end of the Map: a delete and set on every take and
// recycle left the Map's table full of deleted entries, rebuilt (allocated) every few calls.
const free = new Map<number, SizeClass>();
let clock = 0;
let pooledBytes = 0;
let births: Map<object, FloatArray> | null = null;

/**
 * Float32 storage outside the JavaScript heap that `allocate` prefers while it offers any (the worker
 * threads' shared WebAssembly memory: kernels/wasm/resident-storage.ts). Its arrays share one
 * ArrayBuffer, so each array's storage has an identity of its own (storageOf).
 */
export interface StorageProvider {
  /** A fresh array of `length` floats, contents unspecified, or undefined (none offered for this length now). */
  take(length: number): Float32Array | undefined;
  /** Gives `array`'s storage back when it is one of the provider's arrays (true); false for any other array. */
  release(array: FloatArray): boolean;
  /** The storage of an array over the provider's memory, or undefined for any other array. */
  identity(array: FloatArray): object | undefined;
}

let provider: StorageProvider | null = null;

/** Installs the provider of storage outside the JavaScript heap (it stays: its arrays outlive its offers). */
export function setStorageProvider(p: StorageProvider): void {
  provider = p;
}

/**
 * `array` itself, or for one of the storage provider's arrays an ordinary copy (the provider's region given
 * back at once): for an array about to outlive the work that made it (a .grad its tensor's getter hands
 * out, unseen-grad.ts: the collector would give its region back only at its next full collection).
 */
export function ordinaryStorage(array: FloatArray): FloatArray {
  if (provider === null || provider.identity(array) === undefined) return array;
  const copy = new Float32Array(array);
  provider.release(array);
  return copy;
}

/**
 * What `array` is a view of: its ArrayBuffer, or for an array over a storage provider's memory (where every
 * array shares one ArrayBuffer) its own region. Two arrays alias exactly when their storage is the same.
 */
export function storageOf(array: FloatArray): object {
  return (provider === null ? undefined : provider.identity(array)) ?? array.buffer;
}

// A number, not a string such as "float32:1024": a fresh string is hashed on every lookup, a number is not.
const keyOf = (dtype: DType, length: number): number => length * 2 + (dtype === "float64" ? 1 : 0);
const dtypeOfArray = (a: FloatArray): DType => (a instanceof Float64Array ? "float64" : "float32");

/**
 * An array from the pool, zero-filled unless `zero` is false (for a caller that overwrites every
 * element), or undefined when it holds none of this dtype and length.
 */
export function takePooled(dtype: DType, length: number, zero = true): FloatArray | undefined {
  const held = free.get(keyOf(dtype, length));
  if (provider !== null && dtype === "float32") {
    const outside = provider.take(length);
    if (outside !== undefined) {
      // An ordinary array of this size held for later is never taken while the provider offers: let it go.
      const stale = held?.arrays.shift();
      if (stale !== undefined) pooledBytes -= stale.byteLength;
      if (zero) outside.fill(0);
      return outside;
    }
  }
  const array = held?.arrays.pop();
  if (array === undefined) return undefined;
  held!.lastUse = ++clock;
  pooledBytes -= array.byteLength;
  if (zero) array.fill(0);
  return array;
}

/**
 * Gives `array` to the pool for `allocate` to hand out again. Only for an array that nothing else
 * references, or will ever read or write again; views into part of a buffer, shared memory, small
 * arrays and arrays beyond the pool's budget are left to the garbage collector. Over the budget, the
 * arrays of the sizes least recently taken or given make room (the shapes of the work before, say
 * training's, give way to those of the work now, say inference's). Returns whether it was kept. An
 * array of the storage provider's (setStorageProvider) goes back to the provider instead (true).
 */
export function recycle(array: FloatArray): boolean {
  // The provider's own arrays go straight back to it (another array of any size may take the region).
  if (provider !== null && provider.release(array)) return true;
  const bytes = array.byteLength;
  if (bytes < MIN_POOLED_BYTES || array.byteOffset !== 0 || bytes !== array.buffer.byteLength) return false;
  if (!(array.buffer instanceof ArrayBuffer) || bytes > MAX_POOLED_BYTES) return false;
  const key = keyOf(dtypeOfArray(array), array.length);
  const held = free.get(key);
  // Already held: a scan of at most MAX_PER_SIZE arrays instead of a Set that every take and recycle would change.
  if (held !== undefined && (held.arrays.length >= MAX_PER_SIZE || held.arrays.includes(array))) return false;
  if (pooledBytes + bytes > MAX_POOLED_BYTES) evictFor(key, bytes);
  if (pooledBytes + bytes > MAX_POOLED_BYTES) return false;
  // Whoever takes it next writes into it: an in-place write, which voids a kernel's offer of its contents (kernels/wasm/handoff.ts).
  bumpVersion(array);
  if (held === undefined) free.set(key, { arrays: [array], lastUse: ++clock });
  else {
    held.arrays.push(array);
    held.lastUse = ++clock;
  }
  pooledBytes += bytes;
  return true;
}

/** Drops the arrays of other sizes, least recently used size first and oldest array first, until `bytes` more fit. */
function evictFor(key: number, bytes: number): void {
  const byAge = [...free].sort((x, y) => x[1].lastUse - y[1].lastUse);
  for (const [other, held] of byAge) {
    if (pooledBytes + bytes <= MAX_POOLED_BYTES) break;
    if (other === key) continue;
    while (held.arrays.length > 0 && pooledBytes + bytes > MAX_POOLED_BYTES) pooledBytes -= held.arrays.shift()!.byteLength;
    if (held.arrays.length === 0) free.delete(other);
  }
}

/** Bytes the pool holds now. */
export function pooledByteCount(): number {
  return pooledBytes;
}

/** Drops everything the pool holds. */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

/** Called by `allocate` for every array it returns. */
export function noteBirth(array: FloatArray): void {
  births?.set(storageOf(array), array);
}

/**
 * Runs `fn`, recording in `into` every array `allocate` returns meanwhile (by its storage, storageOf); an inner
 * call records only into its own map.
 */
export function trackBirths<T>(into: Map<object, FloatArray>, fn: () => T): T {
  const outer = births;
  births = into;
  try {
    return fn();
  } finally {
    births = outer;
  }
}
