import ops from "ndarray-ops";
import type { Context } from "../context.js";
import { dtypeOf, promote, type DType, type NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { type GemmProduct, gemm, gemmProducts } from "../kernels/gemm.js";
import { PreparedMatrix } from "../kernels/wasm/prepared-matrix.js";
import { sumToShape } from "../kernels/reduce.js";
import { broadcastStrides } from "../kernels/strided-loop.js";
import { copy, empty, isContiguous, view } from "../ndarray-utils.js";
import { asMatrix, matrixOf, saveOperands, savedOperand } from "./matmul.js";

type AddmmContext = Context & { inputShape: number[]; prepared?: PreparedMatrix; mat2ColumnMajor?: boolean; mat2Transposed?: boolean };

/**
 * input + mat1 · mat2 for mat1 [M, K], mat2 [K, N] and input broadcastable to [M, N] (validated by
 * Tensor.addmm): the product accumulates onto the broadcast input in one GEMM, so a linear layer's
 * bias costs no pass of its own. With `mat2Transposed` (validated by its caller, nn's linear), mat2
 * comes as its transpose [N, K] (a linear layer's weight) and the GEMM reads it transposed, as
 * torch.addmm(bias, x, weight.t()) does, without a transpose node in the graph; its gradient has the
 * weight's shape.
 */
export class Addmm extends Function {
  static override forward(ctx: AddmmContext, input: NDArray, mat1: NDArray, mat2: NDArray, mat2Transposed = false): NDArray {
    return Addmm.forwardInto(ctx, undefined, input, mat1, mat2, mat2Transposed);
  }
  /** forward writing into `into` (packed [M, N]; a new array when undefined). */
  static forwardInto(ctx: AddmmContext, into: NDArray | undefined, input: NDArray, mat1: NDArray, mat2: NDArray, mat2Transposed = false): NDArray {
    saveOperands(ctx, mat1, mat2, 1);
    ctx.inputShape = [...input.shape];
    const transposed = mat2Transposed === true;
    ctx.mat2Transposed = transposed;
    ctx.mat2ColumnMajor = !transposed && isColumnMajor(mat2);
    const m = mat1.shape[0]!;
    const k = mat1.shape[1]!;
    const n = mat2.shape[transposed ? 0 : 1]!;
    const out = broadcastCopy(input, m, n, promote(promote(dtypeOf(input), dtypeOf(mat1)), dtypeOf(mat2)), into);
    // A compiled node multiplies by the same mat2 (a weight) every call: the GEMM keeps it ready.
    const prepared = ctx.reused ? (ctx.prepared ??= new PreparedMatrix()) : undefined;
    gemm(m, n, k, matrixOf(mat1, false), matrixOf(mat2, transposed), { data: out.data, offset: 0, ld: n }, true, prepared);
    return out;
  }

  static override backward(ctx: AddmmContext, g: NDArray): (NDArray | null)[] {
    const mat1 = savedOperand(ctx, 1, 0);
    const mat2 = savedOperand(ctx, 1, 1);
    const inputGrad = ctx.needsInputGrad[0] ? sumToShape(g, ctx.inputShape) : null;
    // One gemmProducts call for both products, so that on the threads they run at once, one per
    // thread: the same bits as one after the other.
    const products: GemmProduct[] = [];
    // A strided g packed once for both products (asMatrix copies only what neither layout reads).
    const gm = asMatrix(g, false).array;
    const mat1Grad = mat2 !== null ? mat1GradProduct(mat2, ctx.mat2Transposed === true, gm, products) : null;
    const mat2Grad = mat1 !== null ? mat2GradProduct(ctx, mat1, gm, products) : null;
    gemmProducts(products);
    // A null for mat2Transposed when the call passed it.
    return ctx.needsInputGrad.length > 3 ? [inputGrad, mat1Grad, mat2Grad, null] : [inputGrad, mat1Grad, mat2Grad];
  }
}

/** Adds mat1's gradient g · mat2ᵀ to `products` (mat2 given as mat2ᵀ when `transposed`); returns the array it fills. */
function mat1GradProduct(mat2: NDArray, transposed: boolean, g: NDArray, products: GemmProduct[]): NDArray {
  const m = g.shape[0]!;
  const n = g.shape[1]!;
  const k = mat2.shape[transposed ? 1 : 0]!;
  const grad = empty(promote(dtypeOf(g), dtypeOf(mat2)), [m, k]);
  products.push({ m, n: k, k: n, a: matrixOf(g, false), b: matrixOf(mat2, !transposed), c: { data: grad.data, offset: 0, ld: k }, accumulate: false });
  return grad;
}

/**
 * Adds mat2's gradient mat1ᵀ · g to `products`, in mat2's own layout, as torch's mm_mat2_backward: for a
 * transposed mat2 (a linear layer's weight.t()) it is (gᵀ · mat1)ᵀ, so that the transpose's backward
 * hands the weight a packed gradient to keep instead of a strided one to copy (reference network:
 * 0.12 ms less per training step). Each element is the same dot product over the batch rows. Returns
 * the gradient (a view of the array the product fills). For mat2 given as its transpose (mat2Transposed),
 * gᵀ · mat1 itself.
 */
function mat2GradProduct(ctx: AddmmContext, mat1: NDArray, g: NDArray, products: GemmProduct[]): NDArray {
  const m = mat1.shape[0]!;
  const k = mat1.shape[1]!;
  const n = g.shape[1]!;
  const dtype = promote(dtypeOf(mat1), dtypeOf(g));
  if (ctx.mat2ColumnMajor === true || ctx.mat2Transposed === true) {
    const gradT = empty(dtype, [n, k]);
    products.push({ m: n, n: k, k: m, a: matrixOf(g, true), b: matrixOf(mat1, false), c: { data: gradT.data, offset: 0, ld: k }, accumulate: false });
    // mat2 given as its transpose: (gᵀ · mat1) is its gradient as it is.
    return ctx.mat2Transposed === true ? gradT : gradT.transpose(1, 0);
  }
  const grad = empty(dtype, [k, n]);
  products.push({ m: k, n, k: m, a: matrixOf(mat1, true), b: matrixOf(g, false), c: { data: grad.data, offset: 0, ld: n }, accumulate: false });
  return grad;
}

/** A 2-D view that walks its buffer column by column, packed (the transpose of a packed matrix). */
function isColumnMajor(a: NDArray): boolean {
  const rows = a.shape[0]!;
  const cols = a.shape[1]!;
  return a.shape.length === 2 && rows > 1 && cols > 1 && a.stride[0] === 1 && a.stride[1] === rows;
}

/** Whether every axis but the last has size 1 (a bias row, however many leading axes it has). */
function isRowVector(shape: readonly number[]): boolean {
  for (let i = 0; i < shape.length - 1; i++) if (shape[i] !== 1) return false;
  return true;
}

/** A row-major [m, n] array of `dtype` (`into`, else a new one) holding `input` broadcast; a bias row is copied in, then doubled. */
function broadcastCopy(input: NDArray, m: number, n: number, dtype: DType, into?: NDArray): NDArray {
  const rowVector = input.size === n && isRowVector(input.shape);
  if (rowVector && input.shape.length > 0 && isContiguous(input) && dtypeOf(input) === dtype) {
    const out = into ?? empty(dtype, [m, n]);
    const data = out.data;
    if (m === 0) return out;
    data.set(input.offset === 0 && input.data.length === n ? input.data : input.data.subarray(input.offset, input.offset + n), 0);
    // The rows filled so far copied after themselves: log2(m) copies instead of one per row (fc2's 64 rows of 10).
    for (let filled = 1; filled < m; filled *= 2) data.copyWithin(filled * n, 0, Math.min(filled, m - filled) * n);
    return out;
  }
  const shape = [m, n];
  const broadcast = view(input.data, shape, broadcastStrides(input.shape, input.stride, shape), input.offset);
  if (into === undefined) return copy(broadcast, dtype);
  ops.assign(into, broadcast);
  return into;
}
