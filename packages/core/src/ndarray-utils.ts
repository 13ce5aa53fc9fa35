import ndarray from "ndarray";
import ops from "ndarray-ops";
import { allocate, allocateUninitialized, dtypeOf, type DType, type FloatArray, type NDArray } from "./dtype.js";
import { contiguousStrides, sizeOf, viewStrides } from "./shape.js";

// ndarray's own constructor, per dtype and rank, called directly. `ndarray(data, shape, stride, offset)`
// goes through a wrapper that names the dtype with Object.prototype.toString (a new string) and computes
// missing strides into a new array, and the view copies shape and stride into arrays of its own anyway: a
// training step builds a few hundred views, and this keeps each to the view and its two arrays.
type ViewConstructor = new (data: FloatArray, ...dimensionsStridesOffset: number[]) => NDArray;
const float32Views: ViewConstructor[] = [];
const float64Views: ViewConstructor[] = [];
/** Ranks up to this get the direct constructor; higher ranks (rare) go through ndarray(). */
const MAX_DIRECT_RANK = 6;

function viewConstructor(data: FloatArray, rank: number): ViewConstructor {
  const list = data instanceof Float64Array ? float64Views : float32Views;
  let made = list[rank];
  if (made === undefined) {
    const probe = ndarray(data.subarray(0, 0), new Array<number>(rank).fill(0));
    made = probe.constructor as ViewConstructor;
    list[rank] = made;
  }
  return made;
}

/**
 * An ndarray over `data` with the given shape and strides (row-major when `stride` is omitted) from
 * `offset`: what `ndarray(data, shape, stride, offset)` gives, of the same class. The view copies `shape`
 * and `stride`, so the caller may pass arrays it goes on using.
 */
export function view(data: FloatArray, shape: readonly number[], stride?: readonly number[], offset = 0): NDArray {
  const rank = shape.length;
  if (rank > MAX_DIRECT_RANK) return ndarray(data, [...shape], stride === undefined ? undefined : [...stride], offset);
  const View = viewConstructor(data, rank);
  if (stride !== undefined) {
    switch (rank) {
      case 0: return new View(data, offset);
      case 1: return new View(data, shape[0]!, stride[0]!, offset);
      case 2: return new View(data, shape[0]!, shape[1]!, stride[0]!, stride[1]!, offset);
      case 3: return new View(data, shape[0]!, shape[1]!, shape[2]!, stride[0]!, stride[1]!, stride[2]!, offset);
      case 4: return new View(data, shape[0]!, shape[1]!, shape[2]!, shape[3]!, stride[0]!, stride[1]!, stride[2]!, stride[3]!, offset);
      case 5: return new View(data, shape[0]!, shape[1]!, shape[2]!, shape[3]!, shape[4]!, stride[0]!, stride[1]!, stride[2]!, stride[3]!, stride[4]!, offset);
      default: return new View(data, shape[0]!, shape[1]!, shape[2]!, shape[3]!, shape[4]!, shape[5]!, stride[0]!, stride[1]!, stride[2]!, stride[3]!, stride[4]!, stride[5]!, offset);
    }
  }
  // Row-major strides written out for the common ranks; ranks 5 and 6 (rare) compute them into an array.
  switch (rank) {
    case 0: return new View(data, offset);
    case 1: return new View(data, shape[0]!, 1, offset);
    case 2: return new View(data, shape[0]!, shape[1]!, shape[1]!, 1, offset);
    case 3: return new View(data, shape[0]!, shape[1]!, shape[2]!, shape[1]! * shape[2]!, shape[2]!, 1, offset);
    case 4: {
      const s2 = shape[3]!;
      const s1 = shape[2]! * s2;
      return new View(data, shape[0]!, shape[1]!, shape[2]!, shape[3]!, shape[1]! * s1, s1, s2, 1, offset);
    }
    default: return view(data, shape, contiguousStrides(shape), offset);
  }
}

export function create(dtype: DType, shape: readonly number[]): NDArray {
  return view(allocate(dtype, sizeOf(shape)), shape);
}

/** A row-major array of unspecified contents (see allocateUninitialized), for an output the caller fills entirely. */
export function empty(dtype: DType, shape: readonly number[]): NDArray {
  return view(allocateUninitialized(dtype, sizeOf(shape)), shape);
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
  if (isContiguous(a)) return view(a.data, shape, undefined, a.offset);
  const strides = viewStrides(a.shape, a.stride, shape);
  if (strides !== null) return view(a.data, shape, strides, a.offset);
  return view(copy(a).data, shape);
}

export function scalarArray(dtype: DType, value: number): NDArray {
  const data = allocate(dtype, 1);
  data[0] = value;
  return view(data, []);
}
