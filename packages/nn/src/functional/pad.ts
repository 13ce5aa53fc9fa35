import { ArgumentError, Context, Function, ShapeError, Tensor, formatShape, kernels, type NDArray } from "@pico/core";
import { flatData } from "../kernels/flat.js";
import { checkOptions } from "./check.js";

export type PadMode = "constant" | "reflect" | "replicate" | "circular";

export interface PadOptions {
  /** "constant" (default: `value` around the input), "reflect" (mirrored, edge not repeated), "replicate" (edge repeated) or "circular" (wrapped around). */
  mode?: PadMode;
  /** The fill of "constant" mode. Default 0. */
  value?: number;
}

type PadContext = Context & { maps: Int32Array[]; inputShape: number[] };

/** For each output index of a padded axis, the input index it copies (`before` and `after` added around `size`). */
function indexMap(mode: Exclude<PadMode, "constant">, size: number, before: number, after: number): Int32Array {
  const map = new Int32Array(size + before + after);
  for (let o = 0; o < map.length; o++) {
    const i = o - before;
    if (mode === "reflect") map[o] = i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
    else if (mode === "replicate") map[o] = i < 0 ? 0 : i >= size ? size - 1 : i;
    else map[o] = ((i % size) + size) % size;
  }
  return map;
}

/**
 * Reflect, replicate or circular padding of the last one or two axes; every output element copies one
 * input element, so the gradient adds each output's gradient to the element it copied.
 */
export class PadMode2d extends Function {
  static override forward(ctx: PadContext, x: NDArray, mapH: Int32Array, mapW: Int32Array): NDArray {
    const shape = [...x.shape];
    const r = shape.length;
    const [H, W] = r === 1 ? [1, shape[0]!] : [shape[r - 2]!, shape[r - 1]!];
    const outer = x.size / (H * W);
    const outShape = r === 1 ? [mapW.length] : [...shape.slice(0, r - 2), mapH.length, mapW.length];
    const dtype = kernels.dtypeOf(x);
    const out = kernels.create(dtype, outShape);
    const src = flatData(x, dtype);
    const o = out.data;
    let k = 0;
    for (let p = 0; p < outer; p++) {
      const base = src.offset + p * H * W;
      for (let h = 0; h < mapH.length; h++) {
        const row = base + mapH[h]! * W;
        for (let w = 0; w < mapW.length; w++) o[k++] = src.data[row + mapW[w]!]!;
      }
    }
    ctx.maps = [mapH, mapW];
    ctx.inputShape = shape;
    return out;
  }

  static override backward(ctx: PadContext, gy: NDArray): (NDArray | null)[] {
    const [mapH, mapW] = ctx.maps as [Int32Array, Int32Array];
    const shape = ctx.inputShape;
    const r = shape.length;
    const [H, W] = r === 1 ? [1, shape[0]!] : [shape[r - 2]!, shape[r - 1]!];
    const dtype = kernels.dtypeOf(gy);
    const gx = kernels.create(dtype, shape);
    const g = flatData(gy, dtype);
    const d = gx.data;
    const outer = d.length / (H * W);
    let k = g.offset;
    for (let p = 0; p < outer; p++) {
      const base = p * H * W;
      for (let h = 0; h < mapH.length; h++) {
        const row = base + mapH[h]! * W;
        for (let w = 0; w < mapW.length; w++) d[row + mapW[w]!] = d[row + mapW[w]!]! + g.data[k++]!;
      }
    }
    return [gx, null, null];
  }
}

/**
 * torch.nn.functional.pad: `padding` holds [before, after] pairs from the last axis backwards
 * ([left, right] or [left, right, top, bottom]). "constant" pads any number of axes with `value`;
 * "reflect", "replicate" and "circular" pad the last one or two axes, as PyTorch (reflect needs each
 * pad smaller than its axis, circular at most its axis).
 */
export function pad(input: Tensor, padding: readonly number[], options: PadOptions = {}): Tensor {
  const op = "pad";
  if (!(input instanceof Tensor)) throw new ArgumentError(`${op}: input must be a Tensor, but got ${typeof input}`);
  checkOptions(op, options, ["mode", "value"]);
  const mode = options.mode ?? "constant";
  if (!["constant", "reflect", "replicate", "circular"].includes(mode)) {
    throw new ArgumentError(`${op}: mode must be "constant", "reflect", "replicate" or "circular", but got ${JSON.stringify(mode)}`);
  }
  if (!Array.isArray(padding) || padding.length % 2 !== 0 || padding.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new ArgumentError(`${op}: padding must be pairs [before, after] of non-negative integers, from the last axis backwards, but got ${JSON.stringify(padding)}`);
  }
  if (mode === "constant") {
    const value = options.value ?? 0;
    if (typeof value !== "number") throw new ArgumentError(`${op}: value must be a number, but got ${typeof value}`);
    return input.pad(padding, value);
  }
  if (options.value !== undefined) throw new ArgumentError(`${op}: value is only used by mode "constant", but mode is "${mode}"`);
  const axes = padding.length / 2;
  if (axes < 1 || axes > 2 || input.ndim < axes) {
    throw new ShapeError(`${op}: mode "${mode}" pads the last one or two axes ([left, right] or [left, right, top, bottom]), but got ${padding.length} numbers for input of shape ${formatShape(input.shape)}`);
  }
  const r = input.ndim;
  // The kernel sees [outer, H, W]; with one padded axis H is passed through unchanged (or is 1 for a 1-D input).
  const sizes = [r >= 2 ? input.shape[r - 2]! : 1, input.shape[r - 1]!];
  const pads = axes === 1 ? [[0, 0], [padding[0]!, padding[1]!]] : [[padding[2]!, padding[3]!], [padding[0]!, padding[1]!]];
  pads.forEach(([before, after], i) => {
    const size = sizes[i]!;
    const limit = mode === "reflect" ? size - 1 : mode === "circular" ? size : Infinity;
    if (size < 1 || before! > limit || after! > limit) {
      const rule = mode === "reflect" ? "smaller than" : mode === "circular" ? "at most" : "used with a non-empty";
      throw new ShapeError(`${op}: mode "${mode}" needs each pad ${rule} its axis, but got [${before}, ${after}] for an axis of size ${size} (input ${formatShape(input.shape)})`);
    }
  });
  const [mapH, mapW] = pads.map(([before, after], i) => indexMap(mode, sizes[i]!, before!, after!)) as [Int32Array, Int32Array];
  return PadMode2d.apply(input, mapH, mapW);
}
