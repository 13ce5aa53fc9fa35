import { kernels, type DType, type FloatArray, type NDArray } from "@pico/core";

/** Row-major elements of `a` in `dtype`: the array's own buffer (never to be written) when it already is, otherwise a copy. */
export function flatData(a: NDArray, dtype: DType): { data: FloatArray; offset: number } {
  if (kernels.dtypeOf(a) === dtype && kernels.isContiguous(a)) return { data: a.data, offset: a.offset };
  return { data: kernels.copy(a, dtype).data, offset: 0 };
}
