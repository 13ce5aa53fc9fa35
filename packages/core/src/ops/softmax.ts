import type { Context } from "../context.js";
import { dtypeOf, type FloatArray, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { create, packed } from "../ndarray-utils.js";

type Lanes = { outer: number; len: number; inner: number };

/** Splits a shape around `axis` so that element (o, i, j) sits at (o * len + i) * inner + j. */
function lanes(shape: readonly number[], axis: number): Lanes {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, len: shape[axis] ?? 1, inner };
}

/** log(softmax(x)) along `axis`, computed as x - max - log(sum(exp(x - max))) so large logits stay finite. */
export class LogSoftmax extends Function {
  static override forward(ctx: Context & { axis: number }, a: NDArray, axis: number): NDArray {
    const x = packed(a);
    const out = create(dtypeOf(a), a.shape);
    const { outer, len, inner } = lanes(a.shape, axis);
    forEachLane(outer, len, inner, (base) => {
      const max = laneMax(x.data, base, len, inner);
      let sum = 0;
      for (let i = 0; i < len; i++) sum += Math.exp(x.data[base + i * inner]! - max);
      const shift = max + Math.log(sum);
      for (let i = 0; i < len; i++) out.data[base + i * inner] = x.data[base + i * inner]! - shift;
    });
    ctx.axis = axis;
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context & { axis: number }, g: NDArray): [NDArray, null] {
    const out = ctx.savedTensors[0]!;
    const gp = packed(g).data;
    const gin = create(dtypeOf(g), out.shape);
    const { outer, len, inner } = lanes(out.shape, ctx.axis);
    forEachLane(outer, len, inner, (base) => {
      let sum = 0;
      for (let i = 0; i < len; i++) sum += gp[base + i * inner]!;
      for (let i = 0; i < len; i++) {
        const p = base + i * inner;
        gin.data[p] = gp[p]! - Math.exp(out.data[p]!) * sum;
      }
    });
    return [gin, null];
  }
}

export class Softmax extends Function {
  static override forward(ctx: Context & { axis: number }, a: NDArray, axis: number): NDArray {
    const x = packed(a);
    const out = create(dtypeOf(a), a.shape);
    const { outer, len, inner } = lanes(a.shape, axis);
    forEachLane(outer, len, inner, (base) => {
      const max = laneMax(x.data, base, len, inner);
      let sum = 0;
      for (let i = 0; i < len; i++) {
        const e = Math.exp(x.data[base + i * inner]! - max);
        out.data[base + i * inner] = e;
        sum += e;
      }
      for (let i = 0; i < len; i++) out.data[base + i * inner]! /= sum;
    });
    ctx.axis = axis;
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context & { axis: number }, g: NDArray): [NDArray, null] {
    const out = ctx.savedTensors[0]!;
    const gp = packed(g).data;
    const gin = create(dtypeOf(g), out.shape);
    const { outer, len, inner } = lanes(out.shape, ctx.axis);
    forEachLane(outer, len, inner, (base) => {
      let dot = 0;
      for (let i = 0; i < len; i++) dot += gp[base + i * inner]! * out.data[base + i * inner]!;
      for (let i = 0; i < len; i++) {
        const p = base + i * inner;
        gin.data[p] = out.data[p]! * (gp[p]! - dot);
      }
    });
    return [gin, null];
  }
}

function forEachLane(outer: number, len: number, inner: number, body: (base: number) => void): void {
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) body(o * len * inner + j);
}

function laneMax(x: FloatArray, base: number, len: number, inner: number): number {
  let max = -Infinity;
  for (let i = 0; i < len; i++) max = Math.max(max, x[base + i * inner]!);
  return max === -Infinity ? 0 : max;
}
