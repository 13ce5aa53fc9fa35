import { runBackward } from "./autograd.js";
import { ordinaryStorage, recycle, storageOf } from "./buffer-pool.js";
import { dtypeOf, type DType, type FloatArray, type NDArray } from "./dtype.js";
import { ArgumentError, GraphError, ShapeError, formatShape } from "./errors.js";
import { describe, isNdArray, registerTensorClass } from "./function.js";
import { binary } from "./kernels/elementwise.js";
import { maxAxes } from "./kernels/reduce.js";
import { copy, create, filled, packed, scalarArray, view } from "./ndarray-utils.js";
import { Add, Div, Maximum, Minimum, Mul, Pow, Sub } from "./ops/binary.js";
import { Cast } from "./ops/cast.js";
import { Addmm } from "./ops/addmm.js";
import { MatMul } from "./ops/matmul.js";
import { Cat, Expand, Pad, Permute, Reshape, Slice } from "./ops/movement.js";
import { Max, Min, Sum, type TieRule } from "./ops/reduce.js";
import { LogSoftmax, Softmax } from "./ops/softmax.js";
import { Abs, Clamp, Exp, Log, Neg, Relu, Sigmoid, Sqrt, Tanh } from "./ops/unary.js";
import { Generator, defaultGenerator } from "./random.js";
import { checkShapeArgument, tryBroadcastShapes, normalizeAxes, normalizeAxis, sameShape, sizeOf, viewStrides } from "./shape.js";
import type { CallRecord } from "./tracer.js";
import { GraphUse, noGrad, registerGraphUse, tracer } from "./tracer.js";
import { bumpVersion, versionOf } from "./version.js";
import { giveBackGrad, registerGradSlot, revealGrad } from "./unseen-grad.js";
import { fillZerosInPlace, zeroGradSetsToNone, type ZeroGradOptions } from "./zero-grad.js";

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

export interface FactoryOptions extends TensorOptions {
  /** Draw random numbers from this generator instead of the default one (see manualSeed). */
  generator?: Generator;
}

export type NestedArray = number | readonly NestedArray[];
export type Operand = Tensor | number;

let nextTensorId = 0;

/**
 * An n-dimensional array of float32 (or float64) numbers that can take part in autograd.
 * Operators are methods (`a.add(b)`, `x.relu()`); every one broadcasts like NumPy.
 */
export class Tensor {
  data: NDArray;
  requiresGrad: boolean;
  /** Kept after backward with its `.grad`: parameters and tensors the user made; not intermediates. */
  retain: boolean;
  /** The recorded call that produced this tensor, or null for a leaf. */
  creator: CallRecord | null = null;
  // Private fields, so that two tensors of equal contents stay deeply equal (toEqual, structuredClone).
  readonly #id: number = nextTensorId++;
  /** The tracer's count of the live recorded calls this tensor takes part in (created on its first). */
  #graphUse: GraphUse | null = null;
  #grad: Tensor | null = null;
  /** Whether #grad is an array the engine made that no `grad` getter has returned yet (unseen-grad.ts). */
  #gradUnseen = false;

  static {
    registerGraphUse((t) => (t.#graphUse ??= new GraphUse()));
    registerGradSlot({
      peek: (t) => t.#grad,
      setUnseen: (t, g) => {
        t.#grad = g;
        t.#gradUnseen = true;
      },
    });
  }

  /**
   * The gradient backward accumulated into this tensor (null before its first backward, and after
   * zeroGrad). The tensor it returns is the caller's to keep: later steps never write into it once read
   * (zeroGrad drops it; a backward after zeroGrad({ setToNone: false }) adds into it where it is).
   */
  get grad(): Tensor | null {
    if (this.#gradUnseen) {
      this.#gradUnseen = false;
      revealGrad(this.#grad!);
    }
    return this.#grad;
  }

  /**
   * Sets the gradient: null, or a Tensor of this tensor's shape and dtype (as PyTorch's setter, anything
   * else is refused here, before the old `.grad` is touched, not in a later backward or step).
   */
  set grad(value: Tensor | null) {
    if (value !== null) checkAssignedGrad(this, value);
    if (this.#gradUnseen) {
      this.#gradUnseen = false;
      // Nobody else holds it: its array goes back to the buffer pool.
      if (value !== this.#grad) giveBackGrad(this.#grad!);
    }
    this.#grad = value;
  }

  constructor(data: NDArray, options: { requiresGrad?: boolean; retain?: boolean } = {}) {
    if (!isNdArray(data)) throw new ArgumentError(`Tensor: data must be an ndarray over a Float32Array or Float64Array, but got ${describe(data)}`);
    this.data = data;
    this.requiresGrad = options.requiresGrad ?? false;
    this.retain = options.retain ?? true;
  }

  /** A number no other tensor of this process has (the tracer counts the graph's tensors by it). */
  get id(): number {
    return this.#id;
  }
  get shape(): number[] {
    return this.data.shape;
  }
  get ndim(): number {
    return this.data.shape.length;
  }
  get size(): number {
    return sizeOf(this.data.shape);
  }
  get dtype(): DType {
    return dtypeOf(this.data);
  }
  /** How many in-place writes this tensor's buffer has seen (PyTorch's `_version`; shared with every view of the buffer). */
  get version(): number {
    return versionOf(this.data);
  }
  /**
   * Records an in-place write into this tensor's buffer (an optimizer step, a copy into a parameter),
   * as PyTorch's in-place operators do: a backward that saved this buffer before the write then
   * throws instead of computing with the new values. Call it after writing into `.data` directly.
   */
  bumpVersion(): void {
    bumpVersion(this.data);
  }
  /** True for tensors no recorded call produced (parameters, inputs). */
  get isLeaf(): boolean {
    return this.creator === null;
  }

  // ---- factories ----------------------------------------------------------------------------

  static zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 0, options);
  }
  static ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 1, options);
  }
  static full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
    checkShapeArgument("Tensor.full", shape);
    return leaf(filled(dtypeOption("Tensor.full", options), shape, value), options);
  }
  /** Uniform in [0, 1). */
  static rand(shape: readonly number[], options: FactoryOptions = {}): Tensor {
    checkShapeArgument("Tensor.rand", shape);
    const out = create(dtypeOption("Tensor.rand", options), shape);
    const gen = options.generator ?? defaultGenerator;
    for (let i = 0; i < out.data.length; i++) out.data[i] = gen.random();
    return leaf(out, options);
  }
  /** Standard normal. */
  static randn(shape: readonly number[], options: FactoryOptions = {}): Tensor {
    checkShapeArgument("Tensor.randn", shape);
    const out = create(dtypeOption("Tensor.randn", options), shape);
    const gen = options.generator ?? defaultGenerator;
    for (let i = 0; i < out.data.length; i++) out.data[i] = gen.normal();
    return leaf(out, options);
  }
  /** start, start + step, ... up to but excluding end; `arange(n)` is 0..n-1. */
  static arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
    if (end === undefined) [start, end] = [0, start];
    if (step === 0 || !Number.isFinite(step)) throw new ArgumentError(`Tensor.arange: step must be a non-zero finite number, but got ${step}`);
    if (!Number.isFinite(start) || !Number.isFinite(end)) throw new ArgumentError(`Tensor.arange: start and end must be finite numbers, but got ${start} and ${end}`);
    const n = Math.max(0, Math.ceil((end - start) / step));
    const out = create(dtypeOption("Tensor.arange", options), [n]);
    for (let i = 0; i < n; i++) out.data[i] = start + i * step;
    return leaf(out, options);
  }

  // ---- elementwise --------------------------------------------------------------------------

  add(other: Operand): Tensor {
    return Add.apply(this, this.operand(other));
  }
  sub(other: Operand): Tensor {
    return Sub.apply(this, this.operand(other));
  }
  mul(other: Operand): Tensor {
    return Mul.apply(this, this.operand(other));
  }
  div(other: Operand): Tensor {
    return Div.apply(this, this.operand(other));
  }
  pow(exponent: Operand): Tensor {
    return Pow.apply(this, this.operand(exponent));
  }
  /** Elementwise max(this, other); equal elements share the gradient half and half, as in PyTorch. */
  maximum(other: Operand): Tensor {
    return Maximum.apply(this, this.operand(other));
  }
  /** Elementwise min(this, other); equal elements share the gradient half and half, as in PyTorch. */
  minimum(other: Operand): Tensor {
    return Minimum.apply(this, this.operand(other));
  }
  /** Limits every element to [min, max] (either bound may be omitted; min > max gives max everywhere, as torch); NaN stays NaN; gradient 1 inside, bounds included. */
  clamp(min?: number, max?: number): Tensor {
    if (min === undefined && max === undefined) throw new ArgumentError("clamp: give at least one of min and max");
    for (const [name, v] of [["min", min], ["max", max]] as const) {
      if (v !== undefined && (typeof v !== "number" || Number.isNaN(v))) throw new ArgumentError(`clamp: ${name} must be a number, but got ${describeValue(v)}`);
    }
    return Clamp.apply(this, min ?? -Infinity, max ?? Infinity);
  }
  neg(): Tensor {
    return Neg.apply(this);
  }
  exp(): Tensor {
    return Exp.apply(this);
  }
  log(): Tensor {
    return Log.apply(this);
  }
  sqrt(): Tensor {
    return Sqrt.apply(this);
  }
  abs(): Tensor {
    return Abs.apply(this);
  }
  relu(): Tensor {
    return Relu.apply(this);
  }
  sigmoid(): Tensor {
    return Sigmoid.apply(this);
  }
  tanh(): Tensor {
    return Tanh.apply(this);
  }
  square(): Tensor {
    return this.mul(this);
  }

  // ---- reductions ---------------------------------------------------------------------------

  /** Sum over every axis, one axis or several; reduced axes are dropped unless keepDims. */
  sum(axis?: number | readonly number[], keepDims = false): Tensor {
    return Sum.apply(this, normalizeAxes("sum", axis, this.ndim), keepDims);
  }
  mean(axis?: number | readonly number[], keepDims = false): Tensor {
    const axes = normalizeAxes("mean", axis, this.ndim);
    const count = axes.reduce((n, a) => n * (this.shape[a] ?? 1), 1);
    return this.sum(axes, keepDims).div(count);
  }
  /**
   * Max over every axis, one axis or several (NaN wins). The gradient at ties follows PyTorch:
   * over one axis (`x.max(dim)`) it goes to the first maximum; over a list of axes (`x.amax(dims)`)
   * and over everything (`x.max()`) equal maxima share it evenly.
   */
  max(axis?: number | readonly number[], keepDims = false): Tensor {
    const axes = normalizeAxes("max", axis, this.ndim);
    if (axes.some((a) => this.shape[a] === 0)) throw new ShapeError(`max: cannot reduce an empty axis of shape ${formatShape(this.shape)}`);
    return Max.apply(this, axes, keepDims, tieRule(axis));
  }
  /** Min over every axis, one axis or several; NaN wins, and ties share the gradient as in max. */
  min(axis?: number | readonly number[], keepDims = false): Tensor {
    const axes = normalizeAxes("min", axis, this.ndim);
    if (axes.some((a) => this.shape[a] === 0)) throw new ShapeError(`min: cannot reduce an empty axis of shape ${formatShape(this.shape)}`);
    return Min.apply(this, axes, keepDims, tieRule(axis));
  }
  /** log(sum(exp(x))) over one axis (the last by default) or several, computed stably. */
  logSumExp(axis: number | readonly number[] = -1, keepDims = false): Tensor {
    const axes = normalizeAxes("logSumExp", axis, this.ndim);
    // An empty lane sums to 0, whose log is -Infinity, as in torch; there is no max to shift by.
    if (axes.some((a) => this.shape[a] === 0)) return this.exp().sum(axes, keepDims).log();
    // Shifting by the max keeps exp finite; an infinite max (a lane of -Infinity) shifts by 0 instead.
    const shift = noGrad(() => this.max(axes, true));
    const m = shift.data.data;
    for (let i = 0; i < m.length; i++) if (!Number.isFinite(m[i]!)) m[i] = 0;
    const out = this.sub(shift).exp().sum(axes, true).log().add(shift);
    return keepDims ? out : out.reshape(this.shape.filter((_, i) => !axes.includes(i)));
  }

  // ---- linear algebra -----------------------------------------------------------------------

  /** Matrix product; 1-D operands are treated as a row (left) or column (right) vector, batches broadcast. */
  matmul(other: Tensor): Tensor {
    if (!(other instanceof Tensor)) throw new ArgumentError(`matmul: other must be a Tensor, but got ${describe(other)}`);
    const shapes = (): string => `${formatShape(this.shape)} and ${formatShape(other.shape)}`;
    if (this.ndim === 0 || other.ndim === 0) throw new ShapeError(`matmul: both operands need at least 1 dimension, but got shapes ${shapes()}`);
    const k = this.shape[this.ndim - 1]!;
    const k2 = other.shape[Math.max(0, other.ndim - 2)]!;
    if (k !== k2) throw new ShapeError(`matmul: inner dimensions must match, but got shapes ${shapes()} (${k} vs ${k2})`);
    if (tryBroadcastShapes(this.shape.slice(0, -2), other.shape.slice(0, -2)) === null) {
      throw new ShapeError(`matmul: batch dimensions must broadcast (equal or 1), but got shapes ${shapes()}`);
    }
    checkSameDtype("matmul", this, "other", other);
    if (this.ndim === 1 && other.ndim === 1) return this.unsqueeze(0).matmul(other.unsqueeze(1)).reshape([]);
    if (this.ndim === 1) return this.unsqueeze(0).matmul(other).squeeze(-2);
    if (other.ndim === 1) return this.matmul(other.unsqueeze(1)).squeeze(-1);
    return MatMul.apply(this, other);
  }

  /** this + mat1 · mat2 (PyTorch's addmm), for 2-D mat1 [M, K] and mat2 [K, N], this broadcastable to [M, N]: one GEMM, no separate addition. */
  addmm(mat1: Tensor, mat2: Tensor): Tensor {
    if (!(mat1 instanceof Tensor)) throw new ArgumentError(`addmm: mat1 must be a Tensor, but got ${describe(mat1)}`);
    if (!(mat2 instanceof Tensor)) throw new ArgumentError(`addmm: mat2 must be a Tensor, but got ${describe(mat2)}`);
    if (mat1.ndim !== 2 || mat2.ndim !== 2) throw new ShapeError(`addmm: mat1 and mat2 must be 2-D, but got ${addmmShapes(this, mat1, mat2)}`);
    if (mat1.shape[1] !== mat2.shape[0]) {
      throw new ShapeError(`addmm: inner dimensions must match, but got ${addmmShapes(this, mat1, mat2)} (${mat1.shape[1]} vs ${mat2.shape[0]})`);
    }
    // Checked without building the broadcast shape: this runs for every linear layer call.
    const rows = mat1.shape[0]!;
    const columns = mat2.shape[1]!;
    const shape = this.shape;
    const n = shape.length;
    const broadcasts = n <= 2 && (n < 1 || shape[n - 1] === columns || shape[n - 1] === 1) && (n < 2 || shape[0] === rows || shape[0] === 1);
    if (!broadcasts) {
      throw new ShapeError(`addmm: input must broadcast to ${formatShape([rows, columns])} (mat1 rows × mat2 columns), but got ${addmmShapes(this, mat1, mat2)}`);
    }
    checkSameDtype("addmm", this, "mat1", mat1);
    checkSameDtype("addmm", this, "mat2", mat2);
    return Addmm.apply(this, mat1, mat2);
  }

  // ---- movement -----------------------------------------------------------------------------

  /** Same elements, new shape; one entry may be -1 (inferred). */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    const target = inferShape(this.shape, flatShape(shape));
    return Reshape.apply(this, target);
  }
  /**
   * Same elements, new shape, sharing this tensor's memory (like torch's view); throws when the strides
   * cannot show the new shape without a copy (after a permute, say): then use reshape.
   */
  view(...shape: number[] | [readonly number[]]): Tensor {
    const target = inferShape(this.shape, flatShape(shape), "view");
    if (viewStrides(this.shape, this.data.stride, target) === null) {
      throw new ShapeError(
        `view: shape ${formatShape(target)} is not compatible with the input's shape ${formatShape(this.shape)} and strides ${formatShape(this.data.stride)} ` +
          `(an axis of the view would span memory that is not evenly strided); use reshape, which copies when it must`,
      );
    }
    return Reshape.apply(this, target);
  }
  /** Collapses axes startDim..endDim into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    if (this.ndim === 0) return this.reshape([1]);
    const s = normalizeAxis("flatten", startDim, this.ndim);
    const e = normalizeAxis("flatten", endDim, this.ndim);
    if (s > e) throw new ArgumentError(`flatten: startDim (${startDim}) must not come after endDim (${endDim}) for shape ${formatShape(this.shape)}`);
    const middle = this.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
    return this.reshape([...this.shape.slice(0, s), middle, ...this.shape.slice(e + 1)]);
  }
  /** Inserts an axis of size 1 at `axis`. */
  unsqueeze(axis: number): Tensor {
    const a = normalizeAxis("unsqueeze", axis, this.ndim + 1);
    return this.reshape([...this.shape.slice(0, a), 1, ...this.shape.slice(a)]);
  }
  /** Removes the given axis (or every axis) of size 1. */
  squeeze(axis?: number): Tensor {
    if (axis === undefined) return this.reshape(this.shape.filter((d) => d !== 1));
    const a = normalizeAxis("squeeze", axis, this.ndim);
    if (this.shape[a] !== 1) return this;
    return this.reshape(this.shape.filter((_, i) => i !== a));
  }
  /** Swaps two axes (the last two by default). */
  transpose(dim0 = -2, dim1 = -1): Tensor {
    // Like `.T`, the default swap leaves 0-d and 1-D tensors as they are.
    if (this.ndim < 2 && dim0 === -2 && dim1 === -1) return this;
    const a = normalizeAxis("transpose", dim0, this.ndim);
    const b = normalizeAxis("transpose", dim1, this.ndim);
    if (a === b) return this;
    const dims = new Array<number>(this.ndim);
    for (let i = 0; i < dims.length; i++) dims[i] = i;
    dims[a] = b;
    dims[b] = a;
    return Permute.apply(this, dims);
  }
  /** Reorders axes: output axis i is input axis dims[i]. */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    const list = flatShape(dims).map((d) => normalizeAxis("permute", d, this.ndim));
    if (list.length !== this.ndim || new Set(list).size !== list.length) {
      throw new ArgumentError(`permute: dims must be a permutation of the ${this.ndim} axes of ${formatShape(this.shape)}, but got ${formatShape(flatShape(dims))}`);
    }
    return Permute.apply(this, list);
  }
  /**
   * A view broadcast to `shape` without copying (axes of size 1 repeat, new axes are added in front;
   * -1 keeps a size). The gradient is summed back.
   */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    const target = flatShape(shape);
    const lead = target.length - this.ndim;
    const bad = (): never => {
      throw new ShapeError(
        `expand: cannot expand shape ${formatShape(this.shape)} to ${formatShape(target)}; each size must match or be 1, and -1 only keeps an existing size`,
      );
    };
    if (lead < 0) bad();
    const out = target.map((d, i) => {
      const from = i < lead ? undefined : this.shape[i - lead]!;
      if (d === -1 && from !== undefined) return from;
      if (!Number.isInteger(d) || d < 0 || (from !== undefined && from !== 1 && from !== d)) return bad();
      return d;
    });
    return Expand.apply(this, out);
  }
  /** Joins tensors of equal shape except along `axis` (like torch.cat). */
  static cat(tensors: readonly Tensor[], axis = 0): Tensor {
    if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((t) => t instanceof Tensor)) {
      throw new ArgumentError(`Tensor.cat: tensors must be a non-empty array of Tensors, but got ${describe(tensors)}`);
    }
    const first = tensors[0]!;
    const a = normalizeAxis("Tensor.cat", axis, first.ndim);
    if (first.ndim === 0) throw new ShapeError("Tensor.cat: 0-d tensors cannot be concatenated; unsqueeze them or use Tensor.stack");
    for (const t of tensors) {
      if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
        throw new ShapeError(
          `Tensor.cat: every shape must match ${formatShape(first.shape)} except along axis ${a}, but got ${formatShape(t.shape)}`,
        );
      }
    }
    return Cat.apply(a, ...tensors);
  }
  /** Stacks tensors of equal shape along a new axis (like torch.stack). */
  static stack(tensors: readonly Tensor[], axis = 0): Tensor {
    if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((t) => t instanceof Tensor)) {
      throw new ArgumentError(`Tensor.stack: tensors must be a non-empty array of Tensors, but got ${describe(tensors)}`);
    }
    const first = tensors[0]!;
    const a = normalizeAxis("Tensor.stack", axis, first.ndim + 1);
    for (const t of tensors) {
      if (!sameShape(t.shape, first.shape)) {
        throw new ShapeError(`Tensor.stack: every shape must equal ${formatShape(first.shape)}, but got ${formatShape(t.shape)}`);
      }
    }
    return Tensor.cat(tensors.map((t) => t.unsqueeze(a)), a);
  }
  /** Elements [start, end) along `axis` (negative indices count from the end, as in Python). */
  slice(axis: number, start: number, end?: number): Tensor {
    if (this.ndim === 0) throw new ArgumentError("slice: a 0-d tensor has no axis to slice");
    const a = normalizeAxis("slice", axis, this.ndim);
    const n = this.shape[a]!;
    const clamp = (i: number): number => Math.min(n, Math.max(0, i < 0 ? i + n : i));
    if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
      throw new ArgumentError(`slice: start and end must be integers, but got ${start} and ${end}`);
    }
    const s = clamp(start);
    const e = Math.max(s, clamp(end ?? n));
    return Slice.apply(this, a, s, e);
  }
  /** `length` elements from `start` along `axis`, like torch.narrow. */
  narrow(axis: number, start: number, length: number): Tensor {
    if (this.ndim === 0) throw new ArgumentError("narrow: a 0-d tensor has no axis to narrow");
    const a = normalizeAxis("narrow", axis, this.ndim);
    const n = this.shape[a]!;
    const s = start < 0 ? start + n : start;
    if (!Number.isInteger(start) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
      throw new ArgumentError(
        `narrow: need -${n} <= start < ${n} and start + length <= ${n} on axis ${axis} of ${formatShape(this.shape)}, but got start ${start}, length ${length}`,
      );
    }
    return Slice.apply(this, a, s, s + length);
  }
  /**
   * Constant padding in PyTorch's order: `[left, right]` pads the last axis,
   * `[left, right, top, bottom]` the last two, and so on.
   */
  pad(padding: readonly number[], value = 0): Tensor {
    if (padding.length % 2 !== 0 || padding.length / 2 > this.ndim || padding.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new ArgumentError(
        `pad: padding must be pairs of non-negative integers, at most one pair per axis (${this.ndim} axes), but got [${padding.join(", ")}]`,
      );
    }
    const before = new Array<number>(this.ndim).fill(0);
    const after = new Array<number>(this.ndim).fill(0);
    for (let p = 0; p < padding.length / 2; p++) {
      before[this.ndim - 1 - p] = padding[2 * p]!;
      after[this.ndim - 1 - p] = padding[2 * p + 1]!;
    }
    return Pad.apply(this, before, after, value);
  }

  // ---- softmax ------------------------------------------------------------------------------

  logSoftmax(axis = -1): Tensor {
    return LogSoftmax.apply(this, normalizeAxis("logSoftmax", axis, this.ndim));
  }
  softmax(axis = -1): Tensor {
    return Softmax.apply(this, normalizeAxis("softmax", axis, this.ndim));
  }

  // ---- comparisons (no gradient) ------------------------------------------------------------

  /** Index of the first maximum along `axis` (over all elements, flattened, when omitted), as float32. */
  argmax(axis?: number, keepDims = false): Tensor {
    if (axis === undefined) return this.flatten().argmax(0, keepDims);
    tracer.observer?.read("argmax", this);
    const a = normalizeAxis("argmax", axis, this.ndim);
    const { indices } = maxAxes(this.data, [a]);
    const inner = this.shape.slice(a + 1).reduce((p, d) => p * d, 1);
    const len = this.shape[a]!;
    const shape = keepDims ? this.shape.map((d, i) => (i === a ? 1 : d)) : this.shape.filter((_, i) => i !== a);
    const out = create("float32", shape);
    for (let j = 0; j < indices.length; j++) out.data[j] = Math.floor(indices[j]! / inner) % len;
    return new Tensor(out, { retain: false });
  }
  eq(other: Operand): Tensor {
    return this.compare("eq", other);
  }
  gt(other: Operand): Tensor {
    return this.compare("gt", other);
  }
  lt(other: Operand): Tensor {
    return this.compare("lt", other);
  }

  // ---- autograd -----------------------------------------------------------------------------

  /**
   * Computes the gradient of this tensor with respect to every leaf that requires grad, adding it
   * into their `.grad`. A non-scalar tensor needs `grad` (the gradient of some scalar with respect
   * to it). The graph is released afterwards unless `retainGraph`.
   */
  backward(grad?: Tensor | null, options?: { retainGraph?: boolean }): void {
    if (!this.requiresGrad) {
      throw new GraphError(`backward: this tensor ${formatShape(this.shape)} does not require grad and has no graph; create its inputs with { requiresGrad: true }`);
    }
    let g: NDArray;
    if (grad === undefined || grad === null) {
      if (this.size !== 1) {
        throw new GraphError(
          `backward: grad can be implicitly created only for a scalar output, but this tensor has shape ${formatShape(this.shape)}; ` +
            `pass a gradient of the same shape, e.g. t.backward(Tensor.ones(t.shape))`,
        );
      }
      g = filled(this.dtype, this.shape, 1);
    } else {
      if (!(grad instanceof Tensor)) throw new ArgumentError(`backward: grad must be a Tensor, but got ${describe(grad)}`);
      if (!sameShape(grad.shape, this.shape)) {
        throw new ShapeError(`backward: grad must have the output's shape ${formatShape(this.shape)}, but got ${formatShape(grad.shape)}`);
      }
      g = grad.data;
    }
    if (this.creator?.released) {
      throw new GraphError(
        "backward: the graph behind this tensor was already released by an earlier backward(); " +
          "pass { retainGraph: true } to the first backward() to run backward through it again",
      );
    }
    runBackward(this, g, options?.retainGraph ?? false, gradientTensor);
  }

  /**
   * Sets `.grad` to null, or with `{ setToNone: false }` fills an existing `.grad` with zeros where it
   * is (PyTorch's `t.grad.zero_()`), so the next backward adds into the same array.
   */
  zeroGrad(options?: ZeroGradOptions): void {
    // Filled where it is without making it the caller's (unseen-grad.ts).
    const grad = this.#grad;
    if (zeroGradSetsToNone("Tensor.zeroGrad", options) || grad === null) {
      this.grad = null;
      return;
    }
    fillZerosInPlace(grad.data);
    grad.bumpVersion();
  }

  // ---- conversion ---------------------------------------------------------------------------

  /** Nested arrays of numbers, or a number for a 0-d tensor. */
  toArray(): NestedArray {
    tracer.observer?.read("toArray", this);
    const p = packed(this.data).data;
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.ndim) return p[offset]!;
      const stride = this.shape.slice(dim + 1).reduce((a, d) => a * d, 1);
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    const values = build(0, 0);
    // A packed copy is read once: its storage goes back now (a region of the threads' memory would wait for a collection).
    if (p !== this.data.data) recycle(p);
    return values;
  }
  /**
   * The packed elements in row-major order: the tensor's own array when packed, else a copy. An array in
   * the threads' shared memory (resident storage) is always copied: a view of it outlives its region.
   */
  toTypedArray(): FloatArray {
    tracer.observer?.read("toTypedArray", this);
    const p = packed(this.data).data;
    if (p !== this.data.data) return ordinaryStorage(p);
    return storageOf(p) === p.buffer ? p : p.slice();
  }
  /** The value of a one-element tensor. */
  item(): number {
    tracer.observer?.read("item", this);
    if (this.size !== 1) throw new ShapeError(`item: only a tensor with one element has an item, but got shape ${formatShape(this.shape)}`);
    return this.data.data[this.data.offset]!;
  }
  /** Same data, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, { requiresGrad: false, retain: true });
  }
  /** A copy with its own packed buffer; differentiable (the gradient flows back to this tensor). */
  clone(): Tensor {
    return Cast.apply(this, this.dtype);
  }
  /** A copy converted to `dtype`; differentiable, as in PyTorch. */
  to(dtype: DType): Tensor {
    return Cast.apply(this, dtypeOption("to", { dtype }));
  }
  toString(): string {
    return `Tensor(${JSON.stringify(this.toArray())}, shape=${formatShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ", requiresGrad=true" : ""})`;
  }

  // ---- helpers ------------------------------------------------------------------------------

  private operand(other: Operand): Tensor {
    if (other instanceof Tensor) return other;
    if (typeof other !== "number") throw new ArgumentError(`operand must be a Tensor or a number, but got ${describe(other)}`);
    return new Tensor(scalarArray(this.dtype, other));
  }
  private compare(op: "eq" | "gt" | "lt", other: Operand): Tensor {
    tracer.observer?.read(op, this);
    return new Tensor(binary(op, this.data, this.operand(other).data, op, "float32"), { retain: false });
  }
}

registerTensorClass(Tensor);

function dtypeOption(op: string, options: TensorOptions): DType {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new ArgumentError(`${op}: dtype must be "float32" or "float64", but got ${describeValue(dtype)}`);
  return dtype;
}

function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : describe(value);
}

function tieRule(axis: number | readonly number[] | undefined): TieRule {
  return axis === undefined ? "all" : typeof axis === "number" ? "index" : "spread";
}

function leaf(data: NDArray, options: TensorOptions): Tensor {
  return new Tensor(data, { requiresGrad: options.requiresGrad ?? false, retain: true });
}

function flatShape(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
}

function inferShape(from: readonly number[], to: number[], op = "reshape"): number[] {
  const size = sizeOf(from);
  const bad = (): never => {
    throw new ShapeError(`${op}: cannot reshape a tensor of shape ${formatShape(from)} (${size} elements) into ${formatShape(to)}`);
  };
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1 || to.some((d) => !Number.isInteger(d) || d < -1)) bad();
  const known = to.reduce((p, d) => (d === -1 ? p : p * d), 1);
  if (unknown === 1) {
    if (known === 0 || size % known !== 0) bad();
    return to.map((d) => (d === -1 ? size / known : d));
  }
  if (known !== size) bad();
  return to;
}

/**
 * Makes a tensor from a number, nested arrays, or a typed array with `shape`. A typed array of the
 * requested dtype is used without a copy (like torch.from_numpy); nested arrays and Tensors are copied.
 */
export function tensor(
  data: NestedArray | FloatArray | Tensor,
  options: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  if (options.dtype !== undefined) dtypeOption("tensor", options);
  if (data instanceof Tensor) return new Tensor(copy(data.data, options.dtype ?? data.dtype), { requiresGrad: options.requiresGrad ?? false });
  if (data instanceof Float32Array || data instanceof Float64Array) {
    const shape = options.shape ?? [data.length];
    if (sizeOf(shape) !== data.length) {
      throw new ShapeError(`tensor: shape ${formatShape(shape)} needs ${sizeOf(shape)} elements, but the typed array has ${data.length}`);
    }
    const dtype = options.dtype ?? dtypeOf(data);
    const buffer = dtype === dtypeOf(data) ? data : dtype === "float64" ? Float64Array.from(data) : Float32Array.from(data);
    return leaf(view(buffer, shape), options);
  }
  const shape: number[] = [];
  for (let level: NestedArray = data; Array.isArray(level); level = (level as readonly NestedArray[])[0]!) {
    shape.push((level as readonly NestedArray[]).length);
    if ((level as readonly NestedArray[]).length === 0) break;
  }
  const out = create(options.dtype ?? "float32", shape);
  let n = 0;
  const fill = (value: NestedArray, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(value)) throw new ShapeError(`tensor: ragged nested array: expected a number at ${path || "the top"}, but got an array`);
      if (typeof value !== "number") throw new ArgumentError(`tensor: data must hold numbers, but got ${describeValue(value)} at ${path || "the top"}`);
      out.data[n++] = value;
      return;
    }
    if (!Array.isArray(value) && typeof value !== "number") throw new ArgumentError(`tensor: data must hold numbers, but got ${describeValue(value)} at ${path || "the top"}`);
    if (!Array.isArray(value) || value.length !== shape[depth]) {
      throw new ShapeError(`tensor: ragged nested array: expected length ${shape[depth]} at ${path || "the top"}, but got ${Array.isArray(value) ? `length ${value.length}` : "a number"}`);
    }
    value.forEach((v: NestedArray, i: number) => fill(v, depth + 1, `${path}[${i}]`));
  };
  fill(data, 0, "");
  if (options.shape !== undefined) {
    if (sizeOf(options.shape) !== out.size) {
      throw new ShapeError(`tensor: shape ${formatShape(options.shape)} needs ${sizeOf(options.shape)} elements, but the data has ${out.size}`);
    }
    return leaf(view(out.data, options.shape), options);
  }
  return leaf(out, options);
}

/** A gradient the backward pass computed, as the `.grad` tensor it becomes. */
function gradientTensor(data: NDArray): Tensor {
  return new Tensor(data);
}

/** Matrix products do not promote (PyTorch raises "expected scalar type Float but found Double"): each operand must have the input's dtype. */
function checkSameDtype(op: string, input: Tensor, name: string, other: Tensor): void {
  if (other.dtype !== input.dtype) {
    throw new ArgumentError(
      `${op}: ${name} must have the input's dtype, ${input.dtype} (matrix products do not promote dtypes, as in PyTorch; convert one with .to("${input.dtype}") or .to("${other.dtype}")), but got ${other.dtype}`,
    );
  }
}

function addmmShapes(input: Tensor, mat1: Tensor, mat2: Tensor): string {
  return `input ${formatShape(input.shape)}, mat1 ${formatShape(mat1.shape)}, mat2 ${formatShape(mat2.shape)}`;
}

/** Throws an ArgumentError unless `value` (not null) may be `t.grad`: a Tensor of t's shape and dtype. */
function checkAssignedGrad(t: Tensor, value: unknown): void {
  if (!(value instanceof Tensor)) throw new ArgumentError(`Tensor.grad: the assigned gradient must be a Tensor or null, but got ${value === undefined ? "undefined" : describe(value)}`);
  if (!sameShape(value.shape, t.shape)) {
    throw new ArgumentError(`Tensor.grad: the assigned gradient must have the tensor's shape ${formatShape(t.shape)}, but got shape ${formatShape(value.shape)}`);
  }
  if (value.dtype !== t.dtype) throw new ArgumentError(`Tensor.grad: the assigned gradient must have the tensor's dtype ${t.dtype}, but got ${value.dtype}`);
  // Backward adds into .grad in place: into the tensor's own values (PyTorch: "can't assign Variable as its own grad").
  if (value === t || storageOf(value.data.data) === storageOf(t.data.data)) {
    throw new ArgumentError(
      `Tensor.grad: the assigned gradient must not be the tensor itself or share its memory, but got ${value === t ? "the tensor itself" : "a tensor over the same memory (a view of it)"}`,
    );
  }
}
