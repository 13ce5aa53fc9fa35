import ndarray from "ndarray";
import type { Context } from "../context.js";
import { dtypeOf, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { unary } from "../kernels/elementwise.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { droppedShape, keptShape, maxAxes, sumAxes } from "../kernels/reduce.js";
import { create, packed, reshapeView } from "../ndarray-utils.js";

type Reduction = Context & { inShape: number[]; axes: number[] };

/** Sum over the given axes (sorted, non-negative, already validated by Tensor.sum). */
export class Sum extends Function {
  static override forward(ctx: Reduction, a: NDArray, axes: number[], keepDims: boolean): NDArray {
    ctx.inShape = a.shape;
    ctx.axes = axes;
    const out = sumAxes(a, axes);
    return keepDims ? out : reshapeView(out, droppedShape(a.shape, axes));
  }
  static override backward(ctx: Reduction, g: NDArray): [NDArray, null, null] {
    return [expand(reshapeView(g, keptShape(ctx.inShape, ctx.axes)), ctx.inShape), null, null];
  }
}

type Extremum = Reduction & { indices: Int32Array };

/** Max over the given axes; the gradient goes to the first maximum only. */
export class Max extends Function {
  static override forward(ctx: Extremum, a: NDArray, axes: number[], keepDims: boolean): NDArray {
    const { values, indices } = maxAxes(a, axes);
    ctx.inShape = a.shape;
    ctx.indices = indices;
    return keepDims ? values : reshapeView(values, droppedShape(a.shape, axes));
  }
  static override backward(ctx: Extremum, g: NDArray): [NDArray, null, null] {
    return [scatter(g, ctx.indices, ctx.inShape), null, null];
  }
}

/** Min over the given axes; the gradient goes to the first minimum only. */
export class Min extends Function {
  static override forward(ctx: Extremum, a: NDArray, axes: number[], keepDims: boolean): NDArray {
    const { values, indices } = maxAxes(unary("neg", a), axes);
    ctx.inShape = a.shape;
    ctx.indices = indices;
    const out = unary("neg", values);
    return keepDims ? out : reshapeView(out, droppedShape(a.shape, axes));
  }
  static override backward(ctx: Extremum, g: NDArray): [NDArray, null, null] {
    return [scatter(g, ctx.indices, ctx.inShape), null, null];
  }
}

/** Zeros of `shape` with g[j] added at row-major position indices[j]. */
function scatter(g: NDArray, indices: Int32Array, shape: number[]): NDArray {
  const gin = create(dtypeOf(g), shape);
  const src = packed(g).data;
  const dst = gin.data;
  for (let j = 0; j < indices.length; j++) dst[indices[j]!] = dst[indices[j]!]! + src[j]!;
  return gin;
}

/** A read-only view of `a` broadcast to `shape` (stride 0 along broadcast axes). */
export function expand(a: NDArray, shape: readonly number[]): NDArray {
  return ndarray(a.data, [...shape], broadcastStrides(a.shape, a.stride, shape), a.offset);
}
