import { Context } from "./context.js";
import type { NDArray } from "./dtype.js";
import { ArgumentError, GraphError } from "./errors.js";
import type { Tensor } from "./tensor.js";
import { tracer } from "./tracer.js";

/** What a backward may return: one gradient (or null) per argument of apply, or a lone gradient for a single input. */
export type BackwardResult = NDArray | null | ReadonlyArray<NDArray | null>;

/** The static side of a Function subclass. */
export interface FunctionClass {
  readonly name: string;
  forward(ctx: Context, ...args: never[]): NDArray;
  backward(ctx: Context, grad: NDArray): BackwardResult;
  /**
   * Optional: backward given the output's gradient in parts, `grad` + each of `more` (same shape and dtype),
   * for a Function that adds them within its own pass (a BatchNorm whose output feeds a residual block's
   * two branches). The eager engine then hands over the parts of an output several calls read instead of
   * summing them first (not for a retained output, whose .grad is the sum); everything else calls backward.
   * Only where backwardParts comes from the class that defines backward: a subclass overriding backward
   * alone gets its backward, on the summed gradient.
   */
  backwardParts?(ctx: Context, grad: NDArray, more: readonly NDArray[]): BackwardResult;
  /**
   * Optional: forward writing its result into `out` (packed, of forward's output shape and dtype, its
   * contents unspecified, sharing no memory with the arguments) and returning `out`. A compiled graph
   * (graph/compile.ts) runs it on buffers planned once; a Function without it still replays, through
   * forward, allocating its output each call.
   */
  forwardInto?(ctx: Context, out: NDArray, ...args: never[]): NDArray;
}

type ToTensor<T> = T extends NDArray ? Tensor : T;
type ForwardArgs<F extends FunctionClass> = F["forward"] extends (ctx: never, ...args: infer A) => NDArray ? A : never;
/** apply takes Tensors where forward takes arrays; every other argument passes through unchanged. */
export type ApplyArgs<F extends FunctionClass> = TensorsFor<ForwardArgs<F>>;
type TensorsFor<A extends readonly unknown[]> = { [K in keyof A]: ToTensor<A[K]> };

interface TensorClass {
  new (data: NDArray, options: { requiresGrad: boolean; retain: boolean }): Tensor;
}
let TensorImpl: TensorClass | null = null;

/** Called once by tensor.ts; keeps this module free of a load-order cycle with Tensor. */
export function registerTensorClass(impl: TensorClass): void {
  TensorImpl = impl;
}

export function isTensor(value: unknown): value is Tensor {
  return TensorImpl !== null && value instanceof TensorImpl;
}

/**
 * An operator with a hand-written derivative. Subclasses define
 * `static forward(ctx, ...args)` over the inputs' ndarrays and `static backward(ctx, grad)`,
 * and are called only through `Sub.apply(...)`, which records the call for autograd.
 */
export abstract class Function {
  static forward(_ctx: Context, ..._args: never[]): NDArray {
    throw new GraphError(`${this.name} must define static forward(ctx, ...inputs)`);
  }

  static backward(_ctx: Context, _grad: NDArray): BackwardResult {
    throw new GraphError(`${this.name} must define static backward(ctx, grad) to be differentiated`);
  }

  static apply<F extends FunctionClass>(this: F, ...args: ApplyArgs<F>): Tensor {
    if (TensorImpl === null) throw new GraphError("Function.apply: the Tensor class is not loaded");
    const inputs = args as readonly unknown[];
    const recording = !tracer.blind;
    // Arrays built by push onto a literal, not by map: V8 gives a map's result another elements kind
    // once the caller is optimized, and every function reading these then deoptimizes ("wrong map").
    const needsInputGrad: boolean[] = [];
    const forwardArgs: unknown[] = [];
    let requiresGrad = false;
    for (let i = 0; i < inputs.length; i++) {
      const a = inputs[i];
      const tensorInput = isTensor(a);
      const needs = recording && tensorInput && a.requiresGrad;
      needsInputGrad.push(needs);
      forwardArgs.push(tensorInput ? a.data : a);
      if (needs) requiresGrad = true;
    }
    const ctx = new Context(needsInputGrad);
    // A trace sees this call, not the operators its forward may use inside.
    const observer = tracer.observer;
    tracer.observer = null;
    let out: unknown;
    try {
      out = (this.forward as (ctx: Context, ...a: unknown[]) => unknown)(ctx, ...forwardArgs);
    } finally {
      tracer.observer = observer;
    }
    if (!isNdArray(out)) {
      throw new GraphError(`${this.name}.forward must return an ndarray over a Float32Array or Float64Array, but got ${describe(out)}`);
    }
    const output = new TensorImpl(out, { requiresGrad, retain: false });
    if (requiresGrad) output.creator = tracer.record(this, ctx, inputs, output);
    observer?.call(this, inputs, output);
    return output;
  }
}

export function isNdArray(value: unknown): value is NDArray {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<NDArray>;
  return Array.isArray(v.shape) && Array.isArray(v.stride) && (v.data instanceof Float32Array || v.data instanceof Float64Array);
}

export function describe(value: unknown): string {
  if (isNdArray(value)) return `an ndarray of shape [${value.shape.join(", ")}]`;
  if (isTensor(value)) return `a Tensor of shape [${value.shape.join(", ")}]`;
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value === "object" ? (value.constructor?.name ?? "an object") : `${typeof value} ${String(value)}`;
}

export function checkFunctionArgs(op: string, name: string, value: unknown): void {
  if (!isTensor(value)) throw new ArgumentError(`${op}: ${name} must be a Tensor, but got ${describe(value)}`);
}
