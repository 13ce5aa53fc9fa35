import { kernels, type FloatArray, type NDArray } from "@pico/core";

/**
 * Runs `update` on the elements of `a` as one row-major typed array and makes the changes land in `a`:
 * directly for packed or contiguous views, through a packed copy written back otherwise.
 */
export function updateInPlace(a: NDArray, update: (values: FloatArray) => void): void {
  if (kernels.isPacked(a)) {
    update(a.data);
  } else if (kernels.isContiguous(a)) {
    update(a.data.subarray(a.offset, a.offset + a.size));
  } else {
    const values = kernels.copy(a).data;
    update(values);
    scatter(values, a);
  }
}

/** Writes row-major `values` into the strided view `a`. */
function scatter(values: FloatArray, a: NDArray): void {
  const { shape, stride, data } = a;
  const nd = shape.length;
  const index = new Array<number>(nd).fill(0);
  let offset = a.offset;
  for (let i = 0; i < values.length; i++) {
    data[offset] = values[i]!;
    for (let d = nd - 1; d >= 0; d--) {
      offset += stride[d]!;
      if (++index[d]! < shape[d]!) break;
      offset -= stride[d]! * shape[d]!;
      index[d] = 0;
    }
  }
}
