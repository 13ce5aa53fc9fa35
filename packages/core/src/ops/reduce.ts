import type { Context } from "../context.js";
import { dtypeOf, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { binary, unary } from "../kernels/elementwise.js";
import { selectWeights } from "../kernels/extremum-grad.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { droppedShape, keptShape, maxAxes, sumAxes } from "../kernels/reduce.js";
import { create, packed, reshapeView, view } from "../ndarray-utils.js";

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

/**
 * How a max/min reduction's gradient treats ties, following PyTorch 1.13:
 * - "index": one axis, like `x.max(dim)`: all of it to the first extremum of each lane;
 * - "spread": several axes, like `x.amax(dims)`: shared evenly among the lane's equal extrema
 *   (a lane whose result is NaN gets NaN);
 * - "all": every element, like `x.max()`: shared evenly among the extrema, or among the NaNs when the result is NaN.
 */
export type TieRule = "index" | "spread" | "all";

type Extremum = Reduction & { indices: Int32Array; rule: TieRule };

/** Max over the given axes; the gradient at ties follows `rule`. */
export class Max extends Function {
  static override forward(ctx: Extremum, a: NDArray, axes: number[], keepDims: boolean, rule: TieRule): NDArray {
    const { values, indices } = maxAxes(a, axes);
    return saveExtremum(ctx, a, axes, rule, values, indices, keepDims);
  }
  static override backward(ctx: Extremum, g: NDArray): [NDArray, null, null, null] {
    return [extremumGrad(ctx, g), null, null, null];
  }
}

/** Min over the given axes; the gradient at ties follows `rule`. */
export class Min extends Function {
  static override forward(ctx: Extremum, a: NDArray, axes: number[], keepDims: boolean, rule: TieRule): NDArray {
    const { values, indices } = maxAxes(unary("neg", a), axes);
    return saveExtremum(ctx, a, axes, rule, unary("neg", values), indices, keepDims);
  }
  static override backward(ctx: Extremum, g: NDArray): [NDArray, null, null, null] {
    return [extremumGrad(ctx, g), null, null, null];
  }
}

function saveExtremum(ctx: Extremum, a: NDArray, axes: number[], rule: TieRule, values: NDArray, indices: Int32Array, keepDims: boolean): NDArray {
  ctx.inShape = a.shape;
  ctx.axes = axes;
  ctx.rule = rule;
  if (rule === "index") ctx.indices = indices;
  else ctx.saveForBackward(a, values);
  return keepDims ? values : reshapeView(values, droppedShape(a.shape, axes));
}

function extremumGrad(ctx: Extremum, g: NDArray): NDArray {
  if (ctx.rule === "index") return scatter(g, ctx.indices, ctx.inShape);
  const [a, values] = ctx.savedTensors as [NDArray, NDArray];
  const winners = ctx.rule === "all" ? selectWeights("sameOrBothNaN", a, values, "max") : binary("eq", a, values, "max", dtypeOf(a));
  // mask * (g / count), literally: a lane without winners (a NaN result under "spread") gets 0 * inf = NaN, as in torch.
  const share = binary("div", reshapeView(g, keptShape(ctx.inShape, ctx.axes)), sumAxes(winners, ctx.axes));
  return binary("mul", winners, share);
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
  return view(a.data, shape, broadcastStrides(a.shape, a.stride, shape), a.offset);
}
