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
    const needsInputGrad = needsGradOf(inputs, !tracer.blind);
    const requiresGrad = needsInputGrad.includes(true);
    const ctx = new Context(needsInputGrad);
    // A trace sees this call, not the operators its forward may use inside.
    const observer = tracer.observer;
    tracer.observer = null;
    let out: unknown;
    try {
      out = callForward(this as unknown as ForwardOwner, ctx, inputs);
    } finally {
      tracer.observer = observer;
    }
    if (!isNdArray(out)) {
      throw new GraphError(`${this.name}.forward must return an ndarray over a Float32Array or Float64Array, but got ${describe(out)}`);
    }
    const output = new TensorImpl(out, requiresGrad ? RESULT_REQUIRING_GRAD : RESULT);
    if (requiresGrad) output.creator = tracer.record(this, ctx, inputs, output);
    observer?.call(this, inputs, output);
    return output;
  }
}

// What apply gives the Tensor constructor for its result: shared objects, not a literal per call.
const RESULT = Object.freeze({ requiresGrad: false, retain: false });
const RESULT_REQUIRING_GRAD = Object.freeze({ requiresGrad: true, retain: false });

/** Calls with up to this many arguments share their needsInputGrad array with every call of the same pattern. */
const MAX_SHARED_PATTERN = 8;
/** sharedPatterns[n][mask]: the frozen needsInputGrad of n arguments where bit i of mask says argument i needs a gradient. */
const sharedPatterns: (readonly boolean[])[][] = [];

/**
 * needsInputGrad for a call (which arguments are Tensors requiring grad, when recording), frozen: an
 * operator call's context only reads it, and up to MAX_SHARED_PATTERN arguments one array per pattern
 * serves every call, instead of a new array per call.
 */
function needsGradOf(inputs: readonly unknown[], recording: boolean): readonly boolean[] {
  const n = inputs.length;
  if (n > MAX_SHARED_PATTERN) {
    const list = new Array<boolean>(n);
    for (let i = 0; i < n; i++) list[i] = recording && needsGrad(inputs[i]);
    return Object.freeze(list);
  }
  let mask = 0;
  if (recording) for (let i = 0; i < n; i++) if (needsGrad(inputs[i])) mask |= 1 << i;
  const byMask = (sharedPatterns[n] ??= []);
  let pattern = byMask[mask];
  if (pattern === undefined) {
    const list = new Array<boolean>(n);
    for (let i = 0; i < n; i++) list[i] = (mask & (1 << i)) !== 0;
    pattern = Object.freeze(list);
    byMask[mask] = pattern;
  }
  return pattern;
}

function needsGrad(input: unknown): boolean {
  return isTensor(input) && input.requiresGrad;
}

/** A Function class seen as the owner of a forward taking any arguments. */
interface ForwardOwner {
  forward(ctx: Context, ...args: unknown[]): unknown;
}

/** A Tensor argument's forward sees its ndarray; every other argument passes through unchanged. */
function forwardArgument(input: unknown): unknown {
  return isTensor(input) ? input.data : input;
}

/**
 * fn.forward(ctx, ...arguments as forward sees them), spelled out for up to five arguments: no array of
 * forward's arguments and no spread per operator call.
 */
function callForward(fn: ForwardOwner, ctx: Context, inputs: readonly unknown[]): unknown {
  switch (inputs.length) {
    case 0:
      return fn.forward(ctx);
    case 1:
      return fn.forward(ctx, forwardArgument(inputs[0]));
    case 2:
      return fn.forward(ctx, forwardArgument(inputs[0]), forwardArgument(inputs[1]));
    case 3:
      return fn.forward(ctx, forwardArgument(inputs[0]), forwardArgument(inputs[1]), forwardArgument(inputs[2]));
    case 4:
      return fn.forward(ctx, forwardArgument(inputs[0]), forwardArgument(inputs[1]), forwardArgument(inputs[2]), forwardArgument(inputs[3]));
    case 5:
      return fn.forward(ctx, forwardArgument(inputs[0]), forwardArgument(inputs[1]), forwardArgument(inputs[2]), forwardArgument(inputs[3]), forwardArgument(inputs[4]));
    default: {
      const args = new Array<unknown>(inputs.length);
      for (let i = 0; i < inputs.length; i++) args[i] = forwardArgument(inputs[i]);
      return fn.forward(ctx, ...args);
    }
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
