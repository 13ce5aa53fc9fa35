import { kernels, type NDArray } from "@pico/core";

/** A packed copy-free read of `a` and a new array of its shape and dtype: the loop shape of every pointwise activation here. */
export function pointwiseBuffers(a: NDArray): { x: NDArray["data"]; out: NDArray; o: NDArray["data"] } {
  const out = kernels.create(kernels.dtypeOf(a), a.shape);
  return { x: kernels.packed(a).data, out, o: out.data };
}
