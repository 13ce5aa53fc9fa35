import ops from "ndarray-ops";
import type { Context } from "../context.js";
import { dtypeOf, promote, type DType, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { type GemmProduct, gemm, gemmProducts } from "../kernels/gemm.js";
import { PreparedMatrix } from "../kernels/wasm/prepared-matrix.js";
import { sumToShape } from "../kernels/reduce.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { copy, empty, isContiguous, view } from "../ndarray-utils.js";
import { asMatrix, saveOperands, savedOperands } from "./matmul.js";

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
    const inputGrad = ctx.needsInputGrad[0] ? sumToShape(g, ctx.inputShape) : null;
    // One gemmProducts call for both products, so that on the threads they run at once, one per
    // thread: the same bits as one after the other.
    const products: GemmProduct[] = [];
    // A strided g packed once for both products (asMatrix copies only what neither layout reads).
    const gm = asMatrix(g, false).array;
    const mat1Grad = mat2 !== null ? mat1GradProduct(mat2, gm, products) : null;
    const mat2Grad = mat1 !== null ? mat2GradProduct(ctx, mat1, gm, products) : null;
    gemmProducts(products);
    return [inputGrad, mat1Grad, mat2Grad];
  }
}

/** Adds mat1's gradient g · mat2ᵀ to `products`; returns the array it fills. */
function mat1GradProduct(mat2: NDArray, g: NDArray, products: GemmProduct[]): NDArray {
  const [m, n] = g.shape as [number, number];
  const k = mat2.shape[0]!;
  const grad = empty(promote(dtypeOf(g), dtypeOf(mat2)), [m, k]);
  products.push({ m, n: k, k: n, a: asMatrix(g, false).matrix, b: asMatrix(mat2, true).matrix, c: { data: grad.data, offset: 0, ld: k }, accumulate: false });
  return grad;
}

/**
 * Adds mat2's gradient mat1ᵀ · g to `products`, in mat2's own layout, as torch's mm_mat2_backward: for a
 * transposed mat2 (a linear layer's weight.t()) it is (gᵀ · mat1)ᵀ, so that the transpose's backward
 * hands the weight a packed gradient to keep instead of a strided one to copy (reference network:
 * 0.12 ms less per training step). Each element is the same dot product over the batch rows. Returns
 * the gradient (a view of the array the product fills).
 */
function mat2GradProduct(ctx: AddmmContext, mat1: NDArray, g: NDArray, products: GemmProduct[]): NDArray {
  const [m, k] = mat1.shape as [number, number];
  const n = g.shape[1]!;
  const dtype = promote(dtypeOf(mat1), dtypeOf(g));
  if (ctx.mat2ColumnMajor === true) {
    const gradT = empty(dtype, [n, k]);
    products.push({ m: n, n: k, k: m, a: asMatrix(g, true).matrix, b: asMatrix(mat1, false).matrix, c: { data: gradT.data, offset: 0, ld: k }, accumulate: false });
    return gradT.transpose(1, 0);
  }
  const grad = empty(dtype, [k, n]);
  products.push({ m: k, n, k: m, a: asMatrix(mat1, true).matrix, b: asMatrix(g, false).matrix, c: { data: grad.data, offset: 0, ld: n }, accumulate: false });
  return grad;
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
  const broadcast = view(input.data, shape, broadcastStrides(input.shape, input.stride, shape), input.offset);
  if (into === undefined) return copy(broadcast, dtype);
  ops.assign(into, broadcast);
  return into;
}
