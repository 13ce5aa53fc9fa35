import type { Context } from "../context.js";
import { dtypeOf, type DType, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { copy } from "../ndarray-utils.js";

/** A packed copy in `dtype`; the gradient is converted back to the input's dtype. */
export class Cast extends Function {
  static override forward(ctx: Context & { inputDtype: DType }, a: NDArray, dtype: DType): NDArray {
    ctx.inputDtype = dtypeOf(a);
    return copy(a, dtype);
  }
  static override backward(ctx: Context & { inputDtype: DType }, g: NDArray): [NDArray, null] {
    return [dtypeOf(g) === ctx.inputDtype ? g : copy(g, ctx.inputDtype), null];
  }
}
