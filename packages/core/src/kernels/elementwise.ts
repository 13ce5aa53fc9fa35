import type { DType, FloatArray, NDArray } from "../dtype.js";
import { dtypeOf, promote } from "../dtype.js";
import { ArgumentError, formatShape } from "../errors.js";
import { empty, isPacked } from "../ndarray-utils.js";
import { negativeMask, reluBits, reluKernels, type ReluKernel } from "./relu.js";
import { broadcastShapes, contiguousStrides, sameShape } from "../shape.js";
import { broadcastStrides, forEachRow, planRows } from "./strided-loop.js";

export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "eq"
  | "gt"
  | "lt"
  /** `y <= 0 ? 0 : g` with y relu's output (PyTorch's threshold_backward: a NaN passes g). */
  | "reluGrad"
  /** g * y * (1 - y) (sigmoid backward with y the output). */
  | "sigmoidGrad"
  /** g * (1 - y * y) (tanh backward with y the output). */
  | "tanhGrad"
  /** g * sign(x) (abs backward). */
  | "absGrad"
  /** d(x^y)/dx = y * x^(y-1), and 0 where y = 0 (as PyTorch, also at x = 0). */
  | "powBaseGrad"
  /** d(x^y)/dy = x^y * ln(x), and 0 where x = 0 and y >= 0 (as PyTorch). */
  | "powExponentGrad";

export type UnaryOp = "neg" | "exp" | "log" | "sqrt" | "abs" | "relu" | "sigmoid" | "tanh" | "square" | "reciprocal";

/** out = a (op) b with NumPy broadcasting; a new row-major array (or `into`, packed, of the result's shape and dtype). `name` labels shape errors. */
export function binary(op: BinaryOp, a: NDArray, b: NDArray, name: string = op, dtype?: DType, into?: NDArray): NDArray {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const outType = dtype ?? promote(dtypeOf(a), dtypeOf(b));
  if (into !== undefined && (!isPacked(into) || dtypeOf(into) !== outType || !sameShape(into.shape, shape))) {
    throw new ArgumentError(`binary(${name}): into must be a packed ${outType} array of shape ${formatShape(shape)}, but got a ${dtypeOf(into)} array of shape ${formatShape(into.shape)}`);
  }
  const out = into ?? empty(outType, shape);
  if (op === "reluGrad" && sameShape(a.shape, b.shape)) {
    const g = packedFloat32(a);
    const y = packedFloat32(b);
    const o = packedFloat32(out);
    if (g !== null && y !== null && o !== null) {
      if (!reluKernel(o.length).backward(g, y, o)) reluBits.backward(g, y, o);
      return out;
    }
  }
  if (sameShape(a.shape, b.shape) && isPacked(a) && isPacked(b) && isPacked(out) && packedBinary(op, a.data, b.data, out.data)) return out;
  const plan = planRows(shape, [
    broadcastStrides(a.shape, a.stride, shape),
    broadcastStrides(b.shape, b.stride, shape),
    contiguousStrides(shape),
  ]);
  const x = a.data;
  const y = b.data;
  const o = out.data;
  forEachRow(plan, [a.offset, b.offset, 0], (off, n, st) =>
    binaryRow(op, x, off[0]!, st[0]!, y, off[1]!, st[1]!, o, off[2]!, n),
  );
  return out;
}

/**
 * The common case of a layer's elementwise work, same-shape packed arrays, as flat loops the JIT keeps
 * tight (the strided row walker costs 3-4x on a residual block's add); false for ops it leaves to binaryRow.
 */
function packedBinary(op: BinaryOp, x: FloatArray, y: FloatArray, o: FloatArray): boolean {
  const n = o.length;
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) o[i] = x[i]! + y[i]!;
      return true;
    case "sub":
      for (let i = 0; i < n; i++) o[i] = x[i]! - y[i]!;
      return true;
    case "mul":
      for (let i = 0; i < n; i++) o[i] = x[i]! * y[i]!;
      return true;
    case "div":
      for (let i = 0; i < n; i++) o[i] = x[i]! / y[i]!;
      return true;
    default:
      return false;
  }
}

function binaryRow(
  op: BinaryOp,
  x: FloatArray,
  xi: number,
  xs: number,
  y: FloatArray,
  yi: number,
  ys: number,
  o: FloatArray,
  oi: number,
  n: number,
): void {
  switch (op) {
    case "add":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi]! + y[yi]!;
      return;
    case "sub":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi]! - y[yi]!;
      return;
    case "mul":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi]! * y[yi]!;
      return;
    case "div":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi]! / y[yi]!;
      return;
    case "pow":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = cpow(x[xi]!, y[yi]!);
      return;
    case "maximum":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = Math.max(x[xi]!, y[yi]!);
      return;
    case "minimum":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = Math.min(x[xi]!, y[yi]!);
      return;
    case "eq":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi] === y[yi] ? 1 : 0;
      return;
    case "gt":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi]! > y[yi]! ? 1 : 0;
      return;
    case "lt":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi]! < y[yi]! ? 1 : 0;
      return;
    case "reluGrad":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = y[yi]! <= 0 ? 0 : x[xi]!;
      return;
    case "sigmoidGrad":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) {
        const s = y[yi]!;
        o[oi + k] = x[xi]! * s * (1 - s);
      }
      return;
    case "tanhGrad":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) {
        const t = y[yi]!;
        o[oi + k] = x[xi]! * (1 - t * t);
      }
      return;
    case "absGrad":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) {
        const v = y[yi]!;
        o[oi + k] = v > 0 ? x[xi]! : v < 0 ? -x[xi]! : 0;
      }
      return;
    case "powBaseGrad":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) {
        const e = y[yi]!;
        o[oi + k] = e === 0 ? 0 : e * cpow(x[xi]!, e - 1);
      }
      return;
    case "powExponentGrad":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) {
        const v = x[xi]!;
        const e = y[yi]!;
        o[oi + k] = v === 0 && e >= 0 ? 0 : cpow(v, e) * Math.log(v);
      }
      return;
  }
}

/** C's pow, which PyTorch computes: as Math.pow, except that 1^y = 1 and (-1)^±Infinity = 1 (JavaScript gives NaN). */
function cpow(x: number, y: number): number {
  return x === 1 || (x === -1 && (y === Infinity || y === -Infinity)) ? 1 : Math.pow(x, y);
}

/**
 * out = op(a), elementwise: a new row-major array of a's dtype, or `into` (a packed array of a's dtype
 * and shape, which may be `a` itself when a is packed: each element is read before it is written).
 */
export function unary(op: UnaryOp, a: NDArray, into?: NDArray): NDArray {
  if (into !== undefined && (!isPacked(into) || dtypeOf(into) !== dtypeOf(a) || !sameShape(into.shape, a.shape))) {
    throw new ArgumentError(
      `unary(${op}): into must be a packed ${dtypeOf(a)} array of shape ${formatShape(a.shape)}, but got a ${dtypeOf(into)} array of shape ` +
        `${formatShape(into.shape)}${isPacked(into) ? "" : " (not packed)"}`,
    );
  }
  const out = into ?? empty(dtypeOf(a), a.shape);
  const xp = op === "relu" ? packedFloat32(a) : null;
  const op32 = op === "relu" ? packedFloat32(out) : null;
  if (xp !== null && op32 !== null) {
    if (!reluKernel(op32.length).forward(xp, op32)) reluBits.forward(xp, op32);
    return out;
  }
  const plan = planRows(a.shape, [a.stride, contiguousStrides(a.shape)]);
  const x = a.data;
  const o = out.data;
  if (op === "relu" && x instanceof Float32Array) {
    const xb = new Int32Array(x.buffer, x.byteOffset, x.length);
    const ob = new Int32Array(o.buffer, o.byteOffset, o.length);
    forEachRow(plan, [a.offset, 0], (off, n, st) => reluBitsRow(xb, off[0]!, st[0]!, ob, off[1]!, n));
    return out;
  }
  forEachRow(plan, [a.offset, 0], (off, n, st) => unaryRow(op, x, off[0]!, st[0]!, o, off[1]!, n));
  return out;
}

/** Below this many elements the copies and the call into WebAssembly cost more than the TypeScript loop. */
const RELU_WASM_MIN = 4096;

/** The selected ReLU kernel, but TypeScript for arrays too small to gain from WebAssembly. */
function reluKernel(size: number): ReluKernel {
  const resolved = reluKernels.resolve();
  return resolved.backend === "wasm" && size < RELU_WASM_MIN ? reluBits : resolved.kernel;
}

/** The elements of a packed float32 array, as a Float32Array of exactly its size (its own: packed means the whole buffer), else null. */
function packedFloat32(a: NDArray): Float32Array | null {
  if (!(a.data instanceof Float32Array) || !isPacked(a)) return null;
  return a.data;
}

/**
 * relu on float32 bit patterns, as `v < 0 ? 0 : v` gives (NaN and −0 included), without branches: on
 * a layer's output the signs are random, and the mispredicted branch cost 6-7× the whole loop.
 */
function reluBitsRow(x: Int32Array, xi: number, xs: number, o: Int32Array, oi: number, n: number): void {
  for (let k = 0; k < n; k++, xi += xs) {
    const bits = x[xi]!;
    o[oi + k] = bits & ~negativeMask(bits);
  }
}

function unaryRow(op: UnaryOp, x: FloatArray, xi: number, xs: number, o: FloatArray, oi: number, n: number): void {
  switch (op) {
    case "neg":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = -x[xi]!;
      return;
    case "exp":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = Math.exp(x[xi]!);
      return;
    case "log":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = Math.log(x[xi]!);
      return;
    case "sqrt":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = Math.sqrt(x[xi]!);
      return;
    case "abs":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = Math.abs(x[xi]!);
      return;
    case "relu":
      for (let k = 0; k < n; k++, xi += xs) {
        const v = x[xi]!;
        o[oi + k] = v < 0 ? 0 : v;
      }
      return;
    case "sigmoid":
      for (let k = 0; k < n; k++, xi += xs) {
        const v = x[xi]!;
        // Two branches keep exp from overflowing for large |v|.
        if (v >= 0) o[oi + k] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          o[oi + k] = e / (1 + e);
        }
      }
      return;
    case "tanh":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = Math.tanh(x[xi]!);
      return;
    case "square":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = x[xi]! * x[xi]!;
      return;
    case "reciprocal":
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = 1 / x[xi]!;
      return;
  }
}

/** out = a * scale + shift, elementwise. */
export function affine(a: NDArray, scale: number, shift = 0): NDArray {
  const out = empty(dtypeOf(a), a.shape);
  const plan = planRows(a.shape, [a.stride, contiguousStrides(a.shape)]);
  const x = a.data;
  const o = out.data;
  forEachRow(plan, [a.offset, 0], (off, n, st) => {
    let xi = off[0]!;
    const xs = st[0]!;
    const oi = off[1]!;
    for (let k = 0; k < n; k++, xi += xs) o[oi + k] = x[xi]! * scale + shift;
  });
  return out;
}
