import type { NdArray } from "ndarray";
import { noteBirth, takePooled } from "./buffer-pool.js";

export type DType = "float32" | "float64";
export type FloatArray = Float32Array | Float64Array;
/** The ndarray every Tensor holds: a strided view over a Float32Array or Float64Array. */
export type NDArray = NdArray<FloatArray>;

/** A zero-filled array: a recycled one from the buffer pool when it holds one of this dtype and length. */
export function allocate(dtype: DType, length: number): FloatArray {
  return take(dtype, length, true);
}

/**
 * An array whose contents are unspecified (a recycled one keeps what it held), like torch.empty: for
 * outputs every element of which the caller writes, so that a recycled buffer is not zero-filled for nothing.
 */
export function allocateUninitialized(dtype: DType, length: number): FloatArray {
  return take(dtype, length, false);
}

function take(dtype: DType, length: number, zero: boolean): FloatArray {
  const array = takePooled(dtype, length, zero) ?? (dtype === "float64" ? new Float64Array(length) : new Float32Array(length));
  noteBirth(array);
  return array;
}

export function dtypeOf(array: FloatArray | NDArray): DType {
  const data = array instanceof Float32Array || array instanceof Float64Array ? array : array.data;
  return data instanceof Float64Array ? "float64" : "float32";
}

/** float64 wins when operands differ, as in PyTorch's type promotion. */
export function promote(a: DType, b: DType): DType {
  return a === "float64" || b === "float64" ? "float64" : "float32";
}
