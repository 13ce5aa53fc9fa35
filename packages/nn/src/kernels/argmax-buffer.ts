import { kernels, tracer, type Context } from "@pico/core";

/**
 * Room for a pooling call's `length` arg-max indices: an Int32Array over a float32 array from the
 * buffer pool, which goes back to the pool once backward has released `ctx` (tracer.keepPrivate).
 * Training asks for the same sizes every step, so the indices stop costing an allocation (and the
 * garbage collector a buffer) per step. Its contents are unspecified (not zero-filled: every pooling
 * kernel writes the index of each output), so the calling thread does not clear the conv1 pooling's
 * 288 KB of indices each step before the kernel overwrites them.
 */
export function argmaxBuffer(ctx: Context, length: number): Int32Array {
  const floats = kernels.allocateUninitialized("float32", length);
  tracer.keepPrivate(ctx, floats);
  return new Int32Array(floats.buffer, floats.byteOffset, length);
}
