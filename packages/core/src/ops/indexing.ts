import type { Context } from "../context.js";
import { dtypeOf, promote, type NDArray } from "../dtype.js";
import { ArgumentError, ShapeError, formatShape } from "../errors.js";
import { Function } from "../function.js";
import { create, packed } from "../ndarray-utils.js";
import { normalizeAxis } from "../shape.js";
import { Tensor } from "../tensor.js";

// Indexing and scan operators: index tensors hold whole numbers in a float array (as class targets do).
// A shape is split around `axis` into outer · size · inner, the layout every loop here walks.

function split(shape: readonly number[], axis: number): [outer: number, size: number, inner: number] {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return [outer, shape[axis]!, inner];
}

function indices(op: string, index: NDArray, bound: number): Int32Array {
  const src = packed(index).data;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const k = v < 0 ? v + bound : v;
    if (!Number.isInteger(v) || k < 0 || k >= bound) throw new ArgumentError(`${op}: index ${v} is out of range for an axis of size ${bound} (indices are whole numbers in [-${bound}, ${bound}))`);
    out[i] = k;
  }
  return out;
}

type AxisContext = Context & { axis: number; inShape: number[]; idx: Int32Array; idxShape: number[] };

/** out = input taken at `index` (1-D) along `axis`; backward adds the gradient back at those positions. */
export class IndexSelect extends Function {
  static override forward(ctx: AxisContext, a: NDArray, axis: number, index: NDArray): NDArray {
    const idx = indices("indexSelect", index, a.shape[axis]!);
    const [outer, size, inner] = split(a.shape, axis);
    const shape = [...a.shape];
    shape[axis] = idx.length;
    const out = create(dtypeOf(a), shape);
    const x = packed(a).data;
    const o = out.data;
    for (let p = 0; p < outer; p++) {
      for (let k = 0; k < idx.length; k++) {
        const from = (p * size + idx[k]!) * inner;
        o.set(x.subarray(from, from + inner), (p * idx.length + k) * inner);
      }
    }
    Object.assign(ctx, { axis, inShape: a.shape, idx });
    return out;
  }

  static override backward(ctx: AxisContext, g: NDArray): (NDArray | null)[] {
    const [outer, size, inner] = split(ctx.inShape, ctx.axis);
    const gx = create(dtypeOf(g), ctx.inShape);
    const gy = packed(g).data;
    const d = gx.data;
    const n = ctx.idx.length;
    for (let p = 0; p < outer; p++) {
      for (let k = 0; k < n; k++) {
        const to = (p * size + ctx.idx[k]!) * inner;
        const from = (p * n + k) * inner;
        for (let i = 0; i < inner; i++) d[to + i]! += gy[from + i]!;
      }
    }
    return [gx, null, null];
  }
}

/** The position in `shape` (split around axis) of index tensor element `i`, with the axis coordinate replaced by `k`. */
function gatherOffsets(op: string, inShape: readonly number[], axis: number, index: NDArray): Int32Array {
  const idxShape = index.shape;
  const idx = indices(op, index, inShape[axis]!);
  const rank = inShape.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= inShape[d]!;
  }
  const offsets = new Int32Array(idx.length);
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < idx.length; i++) {
    let at = 0;
    for (let d = 0; d < rank; d++) at += (d === axis ? idx[i]! : coord[d]!) * strides[d]!;
    offsets[i] = at;
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d]! < idxShape[d]!) break;
      coord[d] = 0;
    }
  }
  return offsets;
}

function checkIndexShape(op: string, inShape: readonly number[], axis: number, index: NDArray): void {
  const bad = index.shape.length !== inShape.length || index.shape.some((n, d) => d !== axis && n > inShape[d]!);
  if (bad) {
    throw new ShapeError(`${op}: index must have the input's rank and sizes no larger than the input's on every other axis than ${axis}, but got index ${formatShape(index.shape)} for input ${formatShape(inShape)}`);
  }
}

type OffsetsContext = Context & { offsets: Int32Array; inShape: number[] };

/** out[i][j][k] = input[i][index[i][j][k]][k] (axis 1; likewise any axis), torch.gather; backward scatter-adds. */
export class Gather extends Function {
  static override forward(ctx: OffsetsContext, a: NDArray, axis: number, index: NDArray): NDArray {
    checkIndexShape("gather", a.shape, axis, index);
    const offsets = gatherOffsets("gather", a.shape, axis, index);
    const out = create(dtypeOf(a), index.shape);
    const x = packed(a).data;
    for (let i = 0; i < offsets.length; i++) out.data[i] = x[offsets[i]!]!;
    ctx.offsets = offsets;
    ctx.inShape = a.shape;
    return out;
  }

  static override backward(ctx: OffsetsContext, g: NDArray): (NDArray | null)[] {
    const gx = create(dtypeOf(g), ctx.inShape);
    const gy = packed(g).data;
    for (let i = 0; i < ctx.offsets.length; i++) gx.data[ctx.offsets[i]!]! += gy[i]!;
    return [gx, null, null];
  }
}

/** out = input, then out[..index[i]..] += src[i] along axis (torch.scatter_add); gradients: g for input, g gathered for src. */
export class ScatterAdd extends Function {
  static override forward(ctx: OffsetsContext & { srcShape: number[] }, a: NDArray, axis: number, index: NDArray, src: NDArray): NDArray {
    checkIndexShape("scatterAdd", a.shape, axis, index);
    if (index.shape.some((n, d) => n > src.shape[d]!) || src.shape.length !== index.shape.length) {
      throw new ShapeError(`scatterAdd: src must have the index's rank and be at least as large on every axis, but got src ${formatShape(src.shape)} and index ${formatShape(index.shape)}`);
    }
    const offsets = gatherOffsets("scatterAdd", a.shape, axis, index);
    const dtype = promote(dtypeOf(a), dtypeOf(src));
    const out = create(dtype, a.shape);
    out.data.set(packed(a).data);
    const s = packed(src).data;
    const srcRank = src.shape.length;
    // src may be larger than index: walk index's coordinates in src's layout.
    const coord = new Array<number>(srcRank).fill(0);
    const srcStrides = new Array<number>(srcRank);
    let st = 1;
    for (let d = srcRank - 1; d >= 0; d--) {
      srcStrides[d] = st;
      st *= src.shape[d]!;
    }
    const srcOffsets = new Int32Array(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      let at = 0;
      for (let d = 0; d < srcRank; d++) at += coord[d]! * srcStrides[d]!;
      srcOffsets[i] = at;
      out.data[offsets[i]!]! += s[at]!;
      for (let d = srcRank - 1; d >= 0; d--) {
        if (++coord[d]! < index.shape[d]!) break;
        coord[d] = 0;
      }
    }
    Object.assign(ctx, { offsets, srcShape: src.shape, srcOffsets });
    return out;
  }

  static override backward(ctx: OffsetsContext & { srcShape: number[]; srcOffsets: Int32Array }, g: NDArray): (NDArray | null)[] {
    const gy = packed(g).data;
    let gs: NDArray | null = null;
    if (ctx.needsInputGrad[3]) {
      gs = create(dtypeOf(g), ctx.srcShape);
      for (let i = 0; i < ctx.offsets.length; i++) gs.data[ctx.srcOffsets[i]!] = gy[ctx.offsets[i]!]!;
    }
    return [ctx.needsInputGrad[0] ? packed(g) : null, null, null, gs];
  }
}

/** Running sum along an axis; backward is the reversed running sum of the gradient. */
export class Cumsum extends Function {
  static override forward(ctx: Context & { axis: number }, a: NDArray, axis: number): NDArray {
    ctx.axis = axis;
    return scan(packed(a), axis, false);
  }

  static override backward(ctx: Context & { axis: number }, g: NDArray): (NDArray | null)[] {
    return [scan(packed(g), ctx.axis, true), null];
  }
}

function scan(a: NDArray, axis: number, reverse: boolean): NDArray {
  const [outer, size, inner] = split(a.shape, axis);
  const out = create(dtypeOf(a), a.shape);
  const x = a.data;
  const o = out.data;
  for (let p = 0; p < outer; p++) {
    for (let i = 0; i < inner; i++) {
      let sum = 0;
      for (let k = 0; k < size; k++) {
        const at = (p * size + (reverse ? size - 1 - k : k)) * inner + i;
        sum += x[at]!;
        o[at] = sum;
      }
    }
  }
  return out;
}

/** cond ? a : b elementwise, on same-shape arrays (the public where() broadcasts first); the gradient goes to the chosen side. */
export class Where extends Function {
  static override forward(ctx: Context & { mask: Uint8Array }, cond: NDArray, a: NDArray, b: NDArray): NDArray {
    const c = packed(cond).data;
    const x = packed(a).data;
    const y = packed(b).data;
    const out = create(promote(dtypeOf(a), dtypeOf(b)), a.shape);
    const mask = new Uint8Array(c.length);
    for (let i = 0; i < c.length; i++) {
      mask[i] = c[i] !== 0 ? 1 : 0;
      out.data[i] = mask[i] ? x[i]! : y[i]!;
    }
    ctx.mask = mask;
    return out;
  }

  static override backward(ctx: Context & { mask: Uint8Array }, g: NDArray): (NDArray | null)[] {
    const gy = packed(g).data;
    const ga = ctx.needsInputGrad[1] ? create(dtypeOf(g), g.shape) : null;
    const gb = ctx.needsInputGrad[2] ? create(dtypeOf(g), g.shape) : null;
    for (let i = 0; i < gy.length; i++) {
      if (ctx.mask[i]) {
        if (ga) ga.data[i] = gy[i]!;
      } else if (gb) gb.data[i] = gy[i]!;
    }
    return [null, ga, gb];
  }
}

/** min(max(x, lo), hi) with tensor bounds of x's shape; torch's gradients: x where lo ≤ x ≤ hi, lo where x < lo, hi where x > hi (hi wins when lo > hi). */
export class ClampTensor extends Function {
  static override forward(ctx: Context & { pick: Uint8Array }, a: NDArray, lo: NDArray, hi: NDArray): NDArray {
    const x = packed(a).data;
    const l = packed(lo).data;
    const h = packed(hi).data;
    const out = create(promote(dtypeOf(a), promote(dtypeOf(lo), dtypeOf(hi))), a.shape);
    const pick = new Uint8Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (Number.isNaN(v)) {
        out.data[i] = v;
        continue;
      }
      const raised = v < l[i]! ? l[i]! : v;
      const clamped = raised > h[i]! ? h[i]! : raised;
      out.data[i] = clamped;
      pick[i] = raised > h[i]! ? 2 : v < l[i]! ? 1 : 0;
    }
    ctx.pick = pick;
    return out;
  }

  static override backward(ctx: Context & { pick: Uint8Array }, g: NDArray): (NDArray | null)[] {
    const gy = packed(g).data;
    const grads = [0, 1, 2].map((k) => (ctx.needsInputGrad[k] ? create(dtypeOf(g), g.shape) : null));
    for (let i = 0; i < gy.length; i++) {
      const target = grads[ctx.pick[i]!];
      if (target) target.data[i] = gy[i]!;
    }
    return grads;
  }
}

function axisOf(op: string, input: Tensor, axis: number): number {
  if (!(input instanceof Tensor)) throw new ArgumentError(`${op}: input must be a Tensor`);
  return normalizeAxis(op, axis, input.ndim);
}

/** torch.index_select: the slices of `input` at the whole numbers in the 1-D `index`, along `axis`. */
export function indexSelect(input: Tensor, axis: number, index: Tensor): Tensor {
  const a = axisOf("indexSelect", input, axis);
  if (!(index instanceof Tensor) || index.ndim !== 1) throw new ShapeError(`indexSelect: index must be a 1-D Tensor, but got ${index instanceof Tensor ? formatShape(index.shape) : typeof index}`);
  return IndexSelect.apply(input, a, index.detach());
}

/** torch.gather: out has the index's shape; out at position p is input at p with its `axis` coordinate replaced by index[p]. */
export function gather(input: Tensor, axis: number, index: Tensor): Tensor {
  const a = axisOf("gather", input, axis);
  if (!(index instanceof Tensor)) throw new ArgumentError("gather: index must be a Tensor");
  return Gather.apply(input, a, index.detach());
}

/** torch.scatter_add (out of place): input plus each src element added at its index along `axis`. */
export function scatterAdd(input: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const a = axisOf("scatterAdd", input, axis);
  if (!(index instanceof Tensor) || !(src instanceof Tensor)) throw new ArgumentError("scatterAdd: index and src must be Tensors");
  return ScatterAdd.apply(input, a, index.detach(), src);
}

/** torch.cumsum along `axis`. */
export function cumsum(input: Tensor, axis: number): Tensor {
  return Cumsum.apply(input, axisOf("cumsum", input, axis));
}

/** torch.where(cond, a, b) with broadcasting of all three; cond is non-zero for true. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (!(cond instanceof Tensor)) throw new ArgumentError("where: cond must be a Tensor");
  const [x, y] = [a, b].map((v) => (v instanceof Tensor ? v : Tensor.full([], v, { dtype: cond.dtype }))) as [Tensor, Tensor];
  const shape = broadcast("where", [cond.shape, x.shape, y.shape]);
  return Where.apply(cond.expand(shape), x.expand(shape), y.expand(shape));
}

/** torch.clamp with tensor bounds (broadcast to the input's shape); either may be null. */
export function clampTensor(input: Tensor, min: Tensor | null, max: Tensor | null): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError("clamp: input must be a Tensor");
  if (min === null && max === null) throw new ArgumentError("clamp: give at least one of min and max");
  const lo = min ?? Tensor.full([], -Infinity, { dtype: input.dtype });
  const hi = max ?? Tensor.full([], Infinity, { dtype: input.dtype });
  const shape = broadcast("clamp", [input.shape, lo.shape, hi.shape]);
  if (shape.length !== input.ndim || shape.some((n, i) => n !== input.shape[i])) {
    throw new ShapeError(`clamp: the bounds must broadcast to the input's shape ${formatShape(input.shape)}, but give ${formatShape(shape)}`);
  }
  return ClampTensor.apply(input, lo.expand(shape), hi.expand(shape));
}

function broadcast(op: string, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = rank - s.length + i;
      const n = s[i]!;
      if (out[d] === 1) out[d] = n;
      else if (n !== 1 && n !== out[d]) throw new ShapeError(`${op}: shapes ${shapes.map((x) => formatShape(x)).join(", ")} do not broadcast`);
    }
  }
  return out;
}
