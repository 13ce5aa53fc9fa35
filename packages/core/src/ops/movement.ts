import ops from "ndarray-ops";
import type { Context } from "../context.js";
import { dtypeOf, promote, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { sumToShape } from "../kernels/reduce.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { create, filled, reshapeView, view } from "../ndarray-utils.js";

type InShape = Context & { inShape: number[] };

/** A new shape over the same elements (validated by Tensor.reshape); a view when strides allow. */
export class Reshape extends Function {
  static override forward(ctx: InShape, a: NDArray, shape: number[]): NDArray {
    ctx.inShape = a.shape;
    return reshapeView(a, shape);
  }
  static override backward(ctx: InShape, g: NDArray): [NDArray, null] {
    return [reshapeView(g, ctx.inShape), null];
  }
}

/** Reorders axes: output axis i is input axis dims[i]. Always a view. */
export class Permute extends Function {
  static override forward(ctx: Context & { dims: number[] }, a: NDArray, dims: number[]): NDArray {
    ctx.dims = dims;
    return a.transpose(...dims);
  }
  static override backward(ctx: Context & { dims: number[] }, g: NDArray): [NDArray, null] {
    const inverse = new Array<number>(ctx.dims.length);
    for (let i = 0; i < ctx.dims.length; i++) inverse[ctx.dims[i]!] = i;
    return [g.transpose(...inverse), null];
  }
}

/** Elements [start, end) along one axis (validated by Tensor.slice). A view. */
export class Slice extends Function {
  static override forward(ctx: InShape & { axis: number; start: number }, a: NDArray, axis: number, start: number, end: number): NDArray {
    ctx.inShape = a.shape;
    ctx.axis = axis;
    ctx.start = start;
    return window(a, axis, start, end - start);
  }
  static override backward(ctx: InShape & { axis: number; start: number }, g: NDArray): [NDArray, null, null, null] {
    const gin = create(dtypeOf(g), ctx.inShape);
    ops.assign(window(gin, ctx.axis, ctx.start, g.shape[ctx.axis]!), g);
    return [gin, null, null, null];
  }
}

function window(a: NDArray, axis: number, start: number, length: number): NDArray {
  const lo = a.shape.map((_, i) => (i === axis ? start : 0));
  const hi = a.shape.map((d, i) => (i === axis ? length : d));
  return a.lo(...lo).hi(...hi);
}

/** Constant padding; `before[i]`/`after[i]` elements added on each side of axis i (validated by Tensor.pad). */
export class Pad extends Function {
  static override forward(ctx: InShape & { before: number[] }, a: NDArray, before: number[], after: number[], value: number): NDArray {
    ctx.inShape = a.shape;
    ctx.before = before;
    const out = filled(dtypeOf(a), a.shape.map((d, i) => d + before[i]! + after[i]!), value);
    if (a.size > 0) ops.assign(out.lo(...before).hi(...a.shape), a);
    return out;
  }
  static override backward(ctx: InShape & { before: number[] }, g: NDArray): [NDArray, null, null, null] {
    return [g.lo(...ctx.before).hi(...ctx.inShape), null, null, null];
  }
}

/** A broadcast view of `a` at `shape` (stride 0 along expanded axes; validated by Tensor.expand). */
export class Expand extends Function {
  static override forward(ctx: InShape, a: NDArray, shape: number[]): NDArray {
    ctx.inShape = a.shape;
    return view(a.data, shape, broadcastStrides(a.shape, a.stride, shape), a.offset);
  }
  static override backward(ctx: InShape, g: NDArray): [NDArray, null] {
    return [sumToShape(g, ctx.inShape), null];
  }
}

type CatCtx = Context & { axis: number; sizes: number[] };

/** Joins arrays along an existing axis; called as `Cat.apply(axis, ...tensors)` (validated by Tensor.cat). */
export class Cat extends Function {
  static override forward(ctx: CatCtx, axis: number, ...parts: NDArray[]): NDArray {
    ctx.axis = axis;
    ctx.sizes = parts.map((p) => p.shape[axis]!);
    const shape = [...parts[0]!.shape];
    shape[axis] = ctx.sizes.reduce((a, b) => a + b, 0);
    const out = create(parts.map(dtypeOf).reduce(promote), shape);
    let start = 0;
    for (const p of parts) {
      if (p.size > 0) ops.assign(window(out, axis, start, p.shape[axis]!), p);
      start += p.shape[axis]!;
    }
    return out;
  }
  static override backward(ctx: CatCtx, g: NDArray): (NDArray | null)[] {
    let start = 0;
    const grads = ctx.sizes.map((n, i) => {
      const part = ctx.needsInputGrad[i + 1] ? window(g, ctx.axis, start, n) : null;
      start += n;
      return part;
    });
    return [null, ...grads];
  }
}
