import type { Context } from "../context.js";
import { dtypeOf, promote, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { gemm, type MatrixView } from "../kernels/gemm.js";
import { sumToShape } from "../kernels/reduce.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { copy, empty, view } from "../ndarray-utils.js";
import { broadcastShapes } from "../shape.js";

/** Batched matrix product of [..., M, K] and [..., K, N] with broadcast batch axes (validated by Tensor.matmul). */
export class MatMul extends Function {
  static override forward(ctx: Shapes, a: NDArray, b: NDArray): NDArray {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    // As torch saves them: a only for b's gradient, b only for a's (so an in-place write into one the backward never reads is no error).
    saveOperands(ctx, a, b);
    return batchedMatmul(a, false, b, false);
  }
  static override backward(ctx: Shapes, g: NDArray): (NDArray | null)[] {
    const [a, b] = savedOperands(ctx);
    return [
      b !== null ? sumToShape(batchedMatmul(g, false, b, true), ctx.aShape) : null,
      a !== null ? sumToShape(batchedMatmul(a, true, g, false), ctx.bShape) : null,
    ];
  }
}

type Shapes = Context & { aShape: number[]; bShape: number[] };

/**
 * Saves, of the two factors of a product, `a` when `b` needs a gradient and `b` when `a` does (each
 * factor's gradient reads only the other), as PyTorch's mm, mul and addmm do.
 * `first` is the argument index of `a` (addmm's factors are arguments 1 and 2).
 */
export function saveOperands(ctx: Context, a: NDArray, b: NDArray, first = 0): void {
  const needA = ctx.needsInputGrad[first] ?? false;
  const needB = ctx.needsInputGrad[first + 1] ?? false;
  // Four calls rather than spreads of one-element arrays: this runs for every product in a forward.
  if (needA && needB) ctx.saveForBackward(a, b);
  else if (needB) ctx.saveForBackward(a);
  else if (needA) ctx.saveForBackward(b);
  else ctx.saveForBackward();
}

/** One factor saveOperands kept (`which` 0 for a, 1 for b), or null when it was not kept. */
export function savedOperand(ctx: Context, first: number, which: 0 | 1): NDArray | null {
  const saved = ctx.savedTensors;
  const needA = ctx.needsInputGrad[first] ?? false;
  const needB = ctx.needsInputGrad[first + 1] ?? false;
  if (which === 0) return needB ? saved[0]! : null;
  return needA ? saved[needB ? 1 : 0]! : null;
}

/** The factors saveOperands kept: [a or null, b or null]. */
export function savedOperands(ctx: Context, first = 0): [NDArray | null, NDArray | null] {
  const saved = ctx.savedTensors;
  const needA = ctx.needsInputGrad[first] ?? false;
  const needB = ctx.needsInputGrad[first + 1] ?? false;
  return [needB ? saved[0]! : null, needA ? saved[needB ? 1 : 0]! : null];
}

/** op(a) · op(b) over broadcast batch axes, where op transposes the last two axes when asked. */
export function batchedMatmul(a: NDArray, transA: boolean, b: NDArray, transB: boolean): NDArray {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[transA ? ra - 1 : ra - 2]!;
  const k = a.shape[transA ? ra - 2 : ra - 1]!;
  const n = b.shape[transB ? rb - 2 : rb - 1]!;
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  // Every GEMM below writes its whole block of the output (accumulate = false).
  const out = empty(promote(dtypeOf(a), dtypeOf(b)), [...batch, m, n]);
  const aView = asMatrix(a, transA);
  const bView = asMatrix(b, transB);
  const aBatch = broadcastStrides(a.shape.slice(0, -2), aView.array.stride.slice(0, -2), batch);
  const bBatch = broadcastStrides(b.shape.slice(0, -2), bView.array.stride.slice(0, -2), batch);
  const count = batch.reduce((p, d) => p * d, 1);
  const index = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < count; t++) {
    let aOff = aView.array.offset;
    let bOff = bView.array.offset;
    for (let d = 0; d < batch.length; d++) {
      aOff += index[d]! * aBatch[d]!;
      bOff += index[d]! * bBatch[d]!;
    }
    gemm(m, n, k, { ...aView.matrix, offset: aOff }, { ...bView.matrix, offset: bOff }, { data: out.data, offset: t * m * n, ld: n }, false);
    for (let d = batch.length - 1; d >= 0; d--) {
      index[d]! += 1;
      if (index[d]! < batch[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Describes the last two axes as a GEMM operand without copying when one of them has unit stride. */
export function asMatrix(x: NDArray, transpose: boolean): { array: NDArray; matrix: MatrixView } {
  const matrix = matrixOf(x, transpose);
  // matrixOf copied x when neither axis has unit stride: the copy, packed, in x's shape.
  return { array: matrix.data === x.data ? x : view(matrix.data, x.shape), matrix };
}

/** asMatrix's matrix alone (no wrapper object: products describe their operands on every call). */
export function matrixOf(x: NDArray, transpose: boolean): MatrixView {
  const r = x.shape.length;
  const rowStride = x.stride[r - 2]!;
  const colStride = x.stride[r - 1]!;
  const rows = x.shape[r - 2]!;
  const cols = x.shape[r - 1]!;
  if (colStride === 1 || cols === 1) return { data: x.data, offset: x.offset, ld: rowStride, trans: transpose };
  if (rowStride === 1 || rows === 1) return { data: x.data, offset: x.offset, ld: colStride, trans: !transpose };
  return { data: copy(x).data, offset: 0, ld: cols, trans: transpose };
}
