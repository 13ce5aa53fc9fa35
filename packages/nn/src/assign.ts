import { kernels, type DType, type FloatArray, type NDArray } from "@pico/core";

/** Writes the elements of `src` (any strides, same shape) into `dst` in place, converting dtype. */
export function assignInto(dst: NDArray, src: NDArray): void {
  writeRowMajor(dst, kernels.packed(src).data);
}

/** Writes `values` (row-major, one per element) into the possibly strided view `dst`. */
export function writeRowMajor(dst: NDArray, values: FloatArray | Float64Array): void {
  const size = dst.size;
  if (kernels.isContiguous(dst)) {
    dst.data.set(values.subarray(0, size), dst.offset);
    return;
  }
  const shape = dst.shape;
  const stride = dst.stride;
  const last = shape.length - 1;
  const lastLen = shape[last]!;
  const lastStride = stride[last]!;
  const index = new Array<number>(shape.length).fill(0);
  const out = dst.data;
  let base = dst.offset;
  for (let i = 0; i < size; ) {
    for (let j = 0, o = base; j < lastLen; j++, i++, o += lastStride) out[o] = values[i]!;
    for (let d = last - 1; d >= 0; d--) {
      index[d]! += 1;
      base += stride[d]!;
      if (index[d]! < shape[d]!) break;
      base -= index[d]! * stride[d]!;
      index[d] = 0;
    }
  }
}

/** A packed copy of `a` in `dtype`, or `a` itself when it already has that dtype. */
export function converted(a: NDArray, dtype: DType): NDArray {
  return kernels.dtypeOf(a) === dtype ? a : kernels.copy(a, dtype);
}
