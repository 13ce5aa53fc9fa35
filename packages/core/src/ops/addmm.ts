import ndarray from "ndarray";
import ops from "ndarray-ops";
import type { Context } from "../context.js";
import { dtypeOf, promote, type DType, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { gemm, gemmProducts } from "../kernels/gemm.js";
import { PreparedMatrix } from "../kernels/wasm/prepared-matrix.js";
import { sumToShape } from "../kernels/reduce.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { copy, create, empty, isContiguous, isPacked } from "../ndarray-utils.js";
import { asMatrix, batchedMatmul, saveOperands, savedOperands } from "./matmul.js";

type AddmmContext = Context & { inputShape: number[]; prepared?: PreparedMatrix; mat2ColumnMajor?: boolean };

/**
 * input + mat1 · mat2 for mat1 [M, K], mat2 [K, N] and input broadcastable to [M, N] (validated by
 * Tensor.addmm): the product accumulates onto the broadcast input in one GEMM, so a linear layer's
 * bias costs no pass of its own.
 */
export class Addmm extends Function {
  static override forward(ctx: AddmmContext, input: NDArray, mat1: NDArray, mat2: NDArray): NDArray {
    return Addmm.forwardInto(ctx, undefined, input, mat1, mat2);
  }
  /** forward writing into `into` (packed [M, N]; a new array when undefined). */
  static forwardInto(ctx: AddmmContext, into: NDArray | undefined, input: NDArray, mat1: NDArray, mat2: NDArray): NDArray {
    saveOperands(ctx, mat1, mat2, 1);
    ctx.inputShape = [...input.shape];
    ctx.mat2ColumnMajor = isColumnMajor(mat2);
    const [m, k] = mat1.shape as [number, number];
    const n = mat2.shape[1]!;
    const out = broadcastCopy(input, m, n, promote(promote(dtypeOf(input), dtypeOf(mat1)), dtypeOf(mat2)), into);
    // A compiled node multiplies by the same mat2 (a weight) every call: the GEMM keeps it ready.
    const prepared = ctx.reused ? (ctx.prepared ??= new PreparedMatrix()) : undefined;
    gemm(m, n, k, asMatrix(mat1, false).matrix, asMatrix(mat2, false).matrix, { data: out.data, offset: 0, ld: n }, true, prepared);
    return out;
  }

  static override backward(ctx: AddmmContext, g: NDArray): (NDArray | null)[] {
    const [mat1, mat2] = savedOperands(ctx, 1);
    const inputGrad = ctx.needsInputGrad[0] ? biasGrad(g, ctx.inputShape) : null;
    if (mat1 !== null && mat2 !== null) return [inputGrad, ...bothGrads(ctx, mat1, mat2, g)];
    return [inputGrad, mat2 !== null ? batchedMatmul(g, false, mat2, true) : null, mat1 !== null ? mat2Grad(ctx, mat1, g) : null];
  }
}

/**
 * sumToShape(g, shape), with a bias row's case (a float32 input of g's last dimension, broadcast over its
 * rows) as one loop over g's rows, four at a time: each column's sum adds the rows in order and rounds to
 * float32 after every addition, as sumToShape's store does, so the bits are the same (fc1's [64, 120]
 * 25 -> 6 us).
 */
function biasGrad(g: NDArray, shape: number[]): NDArray {
  const [m, n] = g.shape as [number, number];
  const size = shape.reduce((p, d) => p * d, 1);
  if (!(g.data instanceof Float32Array) || !isPacked(g) || size !== n || shape.at(-1) !== n || m === 1) return sumToShape(g, shape);
  const out = create("float32", shape);
  const o = out.data;
  const x = g.data;
  const f = Math.fround;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const r = i * n;
    for (let j = 0; j < n; j++) o[j] = f(f(f(o[j]! + x[r + j]!) + x[r + n + j]!) + x[r + 2 * n + j]!) + x[r + 3 * n + j]!;
  }
  for (; i < m; i++) for (let j = 0; j < n; j++) o[j] = o[j]! + x[i * n + j]!;
  return out;
}

/**
 * mat1's gradient g · mat2ᵀ and mat2's (as mat2Grad) from one gemmProducts call, so that on the threads
 * the two products run at once, one per thread: the same bits as one after the other.
 */
function bothGrads(ctx: AddmmContext, mat1: NDArray, mat2: NDArray, g: NDArray): [NDArray, NDArray] {
  const [m, k] = mat1.shape as [number, number];
  const n = mat2.shape[1]!;
  const gm = asMatrix(g, false).matrix;
  const gradMat1 = empty(promote(dtypeOf(g), dtypeOf(mat2)), [m, k]);
  const first = { m, n: k, k: n, a: gm, b: asMatrix(mat2, true).matrix, c: { data: gradMat1.data, offset: 0, ld: k }, accumulate: false };
  const dtype = promote(dtypeOf(mat1), dtypeOf(g));
  if (ctx.mat2ColumnMajor === true) {
    const gradT = empty(dtype, [n, k]);
    gemmProducts([first, { m: n, n: k, k: m, a: asMatrix(g, true).matrix, b: asMatrix(mat1, false).matrix, c: { data: gradT.data, offset: 0, ld: k }, accumulate: false }]);
    return [gradMat1, gradT.transpose(1, 0)];
  }
  const gradMat2 = empty(dtype, [k, n]);
  gemmProducts([first, { m: k, n, k: m, a: asMatrix(mat1, true).matrix, b: gm, c: { data: gradMat2.data, offset: 0, ld: n }, accumulate: false }]);
  return [gradMat1, gradMat2];
}

/**
 * mat1ᵀ · g in mat2's own layout, as torch's mm_mat2_backward: for a transposed mat2 (a linear layer's
 * weight.t()) it is (gᵀ · mat1)ᵀ, so that the transpose's backward hands the weight a packed gradient
 * to keep instead of a strided one to copy (reference network: 0.12 ms less per training step). Each
 * element is the same dot product over the batch rows.
 */
function mat2Grad(ctx: AddmmContext, mat1: NDArray, g: NDArray): NDArray {
  return ctx.mat2ColumnMajor === true ? batchedMatmul(g, true, mat1, false).transpose(1, 0) : batchedMatmul(mat1, true, g, false);
}

/** A 2-D view that walks its buffer column by column, packed (the transpose of a packed matrix). */
function isColumnMajor(a: NDArray): boolean {
  const [rows, cols] = a.shape as [number, number];
  return a.shape.length === 2 && rows > 1 && cols > 1 && a.stride[0] === 1 && a.stride[1] === rows;
}

/** A row-major [m, n] array of `dtype` (`into`, else a new one) holding `input` broadcast; a bias row is copied in row by row. */
function broadcastCopy(input: NDArray, m: number, n: number, dtype: DType, into?: NDArray): NDArray {
  const rowVector = input.size === n && input.shape.every((d, i) => d === 1 || i === input.shape.length - 1);
  if (rowVector && input.shape.length > 0 && isContiguous(input) && dtypeOf(input) === dtype) {
    const out = into ?? empty(dtype, [m, n]);
    const row = input.data.subarray(input.offset, input.offset + n);
    for (let i = 0; i < m; i++) out.data.set(row, i * n);
    return out;
  }
  const shape = [m, n];
  const broadcast = ndarray(input.data, shape, broadcastStrides(input.shape, input.stride, shape), input.offset);
  if (into === undefined) return copy(broadcast, dtype);
  ops.assign(into, broadcast);
  return into;
}
