import { allocate, type DType, type FloatArray } from "../dtype.js";

const buffers = new Map<string, FloatArray>();

/**
 * A reusable buffer of at least `length` elements for temporaries that never outlive one kernel
 * call (im2col columns): never save it for backward or return it. Contents are undefined.
 */
export function scratch(slot: string, dtype: DType, length: number): FloatArray {
  const key = `${slot}:${dtype}`;
  const current = buffers.get(key);
  if (current !== undefined && current.length >= length) return current;
  const fresh = allocate(dtype, length);
  buffers.set(key, fresh);
  return fresh;
}
