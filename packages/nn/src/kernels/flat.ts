import { kernels, type DType, type FloatArray, type NDArray } from "@pico/core";

/** A row-major array's elements: `data` from `offset` on. */
export interface Flat {
  data: FloatArray;
  offset: number;
}

/** Row-major elements of `a` in `dtype`: the array's own buffer (never to be written) when it already is, otherwise a copy. */
export function flatData(a: NDArray, dtype: DType): Flat {
  if (kernels.dtypeOf(a) === dtype && kernels.isContiguous(a)) return { data: a.data, offset: a.offset };
  return { data: kernels.copy(a, dtype).data, offset: 0 };
}
