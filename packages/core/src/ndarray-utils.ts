import ndarray from "ndarray";
import ops from "ndarray-ops";
import { allocate, allocateUninitialized, dtypeOf, type DType, type NDArray } from "./dtype.js";
import { contiguousStrides, sizeOf, viewStrides } from "./shape.js";

export function create(dtype: DType, shape: readonly number[]): NDArray {
  return ndarray(allocate(dtype, sizeOf(shape)), [...shape]);
}

/** A row-major array of unspecified contents (see allocateUninitialized), for an output the caller fills entirely. */
export function empty(dtype: DType, shape: readonly number[]): NDArray {
  return ndarray(allocateUninitialized(dtype, sizeOf(shape)), [...shape]);
}

export function filled(dtype: DType, shape: readonly number[], value: number): NDArray {
  const out = create(dtype, shape);
  if (value !== 0) out.data.fill(value);
  return out;
}

/** True when the view walks its buffer in row-major order from `offset` with no gaps. */
export function isContiguous(a: NDArray): boolean {
  let expected = 1;
  for (let i = a.shape.length - 1; i >= 0; i--) {
    const d = a.shape[i]!;
    if (d !== 1 && a.stride[i] !== expected) return false;
    expected *= d;
  }
  return true;
}

/** True when `a` covers its whole buffer from index 0 in row-major order, so `a.data` can be indexed directly. */
export function isPacked(a: NDArray): boolean {
  return a.offset === 0 && a.data.length === a.size && isContiguous(a);
}

/** A row-major copy with its own buffer. */
export function copy(a: NDArray, dtype: DType = dtypeOf(a)): NDArray {
  // Both branches write every element.
  const out = empty(dtype, a.shape);
  if (isContiguous(a) && dtype === dtypeOf(a)) {
    out.data.set(a.data.subarray(a.offset, a.offset + a.size));
  } else if (a.size > 0) {
    ops.assign(out, a);
  }
  return out;
}

/** `a` itself when packed (see isPacked), otherwise a packed copy. Never write into the result. */
export function packed(a: NDArray): NDArray {
  return isPacked(a) ? a : copy(a);
}

/** A view with a new shape over the same elements; copies only when the strides do not allow a view. */
export function reshapeView(a: NDArray, shape: readonly number[]): NDArray {
  if (isContiguous(a)) return ndarray(a.data, [...shape], contiguousStrides(shape), a.offset);
  const strides = viewStrides(a.shape, a.stride, shape);
  if (strides !== null) return ndarray(a.data, [...shape], strides, a.offset);
  const c = copy(a);
  return ndarray(c.data, [...shape]);
}

export function scalarArray(dtype: DType, value: number): NDArray {
  const data = allocate(dtype, 1);
  data[0] = value;
  return ndarray(data, []);
}
