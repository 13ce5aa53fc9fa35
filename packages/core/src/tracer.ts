import type { Context } from "./context.js";
import { recycle } from "./buffer-pool.js";
import type { FloatArray } from "./dtype.js";
import { ArgumentError } from "./errors.js";
import { isTensor, type FunctionClass } from "./function.js";
import type { Tensor } from "./tensor.js";

/** One recorded call of a Function: what backward needs to run it in reverse. */
export interface CallRecord {
  /** Recording order; recording order is a topological order of the graph. */
  readonly id: number;
  fn: FunctionClass;
  ctx: Context | null;
  /** The arguments apply received: Tensors and pass-through values. */
  inputs: readonly unknown[] | null;
  output: Tensor | null;
  released: boolean;
  /** The ids of the tensors that require grad among its inputs and output (see Tracer.stats). */
  tensorIds: readonly number[];
  /** The backward pass's walk of the graph that last reached this call (autograd's reachableCalls), 0 before any. */
  walk: number;
}

/** What trace() installs on the tracer to see a forward: every Function call (recorded or not) and every read of a tensor's values. */
export interface TraceObserver {
  call(fn: FunctionClass, inputs: readonly unknown[], output: Tensor): void;
  /** `op` (item, toArray, ...) is about to read `tensor`'s values into JavaScript. */
  read(op: string, tensor: Tensor): void;
}

export interface TracerStats {
  /** Distinct tensors that require grad (leaves and results) taking part in a recorded call not yet released: the graph's nodes. */
  tensors: number;
  /** Recorded calls not yet released by a backward. */
  funcs: number;
}

/**
 * Records Function calls while gradients are wanted. The graph itself hangs off the tensors
 * (each output points at the call that made it), so a result dropped without backward is
 * garbage-collected with its graph; the pools count what is live, to make leaks testable.
 */
/** What takePrivate returns for a call without private arrays (most calls), instead of a new empty array each time. */
const NO_ARRAYS: readonly FloatArray[] = Object.freeze([]);

export class Tracer {
  /** When true nothing is recorded and no output requires grad (see noGrad). */
  blind = false;
  /** Set while trace() runs (see graph/trace.ts); null otherwise. */
  observer: TraceObserver | null = null;
  private nextId = 0;
  private liveCalls = 0;
  /** How many live calls each tensor (by its id) takes part in; its size is the live tensor count. */
  private readonly tensorCalls = new Map<number, number>();
  // Held values are ids, not tensors, so a collected call's bookkeeping keeps no tensor alive.
  private readonly collected = new FinalizationRegistry<readonly number[]>((ids) => this.forget(ids));
  private readonly privates = new WeakMap<Context, FloatArray[]>();

  record(fn: FunctionClass, ctx: Context, inputs: readonly unknown[], output: Tensor): CallRecord {
    // Indexed loops: an iterator per loop is garbage on every operator call where the JIT does not remove it.
    // Counted first, so that the array is allocated at its size (one pushed onto grows a spare backing store).
    let count = 1;
    for (let i = 0; i < inputs.length; i++) if (graphInput(inputs, i)) count++;
    const tensorIds = new Array<number>(count);
    tensorIds[0] = output.id;
    let filled = 1;
    for (let i = 0; i < inputs.length; i++) if (graphInput(inputs, i)) tensorIds[filled++] = (inputs[i] as Tensor).id;
    const call: CallRecord = { id: this.nextId++, fn, ctx, inputs, output, released: false, tensorIds, walk: 0 };
    const counts = this.tensorCalls;
    for (let i = 0; i < tensorIds.length; i++) counts.set(tensorIds[i]!, (counts.get(tensorIds[i]!) ?? 0) + 1);
    this.liveCalls += 1;
    this.collected.register(call, tensorIds, call);
    return call;
  }

  /** Drops a call's saved state once backward is done with it. */
  release(call: CallRecord): void {
    if (call.released) return;
    call.released = true;
    call.ctx = null;
    call.inputs = null;
    call.output = null;
    this.collected.unregister(call);
    this.forget(call.tensorIds);
  }

  /**
   * Declares arrays that only `ctx` references (say im2col columns a forward keeps for its backward,
   * never returned or shared with an output): once a backward without retainGraph has run and
   * released the call, they go back to the buffer pool for reuse. A graph dropped without backward
   * leaves them to the garbage collector.
   */
  keepPrivate(ctx: Context, ...arrays: FloatArray[]): void {
    if (arrays.length === 0) return;
    const list = this.privates.get(ctx);
    // The rest parameter is a fresh array already: kept as it is.
    if (list === undefined) this.privates.set(ctx, arrays);
    else list.push(...arrays);
  }

  /**
   * Hands an intermediate's array back for reuse by the next allocation of its dtype and length,
   * for code that knows it is dead: no tensor, view, saved array or caller can reach it any more
   * (say a Sequential under noGrad dropping layer i's output once layer i + 1 has returned a
   * result in another buffer). Returns whether the pool kept it; anything else is left to the
   * garbage collector.
   */
  recycle(array: FloatArray): boolean {
    return recycle(array);
  }

  /** The arrays keepPrivate declared for `ctx`, forgotten by the tracer. */
  takePrivate(ctx: Context): readonly FloatArray[] {
    const list = this.privates.get(ctx);
    if (list === undefined) return NO_ARRAYS;
    this.privates.delete(ctx);
    return list;
  }

  stats(): TracerStats {
    return { tensors: this.tensorCalls.size, funcs: this.liveCalls };
  }

  private forget(ids: readonly number[]): void {
    this.liveCalls -= 1;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const n = this.tensorCalls.get(id)! - 1;
      if (n === 0) this.tensorCalls.delete(id);
      else this.tensorCalls.set(id, n);
    }
  }
}

/**
 * Whether inputs[i] is a tensor that requires grad and appears in no earlier argument of the call (a
 * tensor passed twice, x.mul(x), is one node of the graph).
 */
function graphInput(inputs: readonly unknown[], i: number): boolean {
  const input = inputs[i];
  if (!isTensor(input) || !input.requiresGrad) return false;
  for (let j = 0; j < i; j++) if (inputs[j] === input) return false;
  return true;
}

/** The global tracer every Function records into. */
export const tracer = new Tracer();

/**
 * Runs `fn` without recording (like torch.no_grad); nests, and restores the state even if `fn` throws.
 * `fn` must be synchronous: the state cannot follow an async function past its first await.
 */
export function noGrad<T>(fn: () => T): T {
  return withBlind("noGrad", true, fn);
}

/** Runs `fn` with recording on, even inside noGrad (like torch.enable_grad); synchronous only. */
export function enableGrad<T>(fn: () => T): T {
  return withBlind("enableGrad", false, fn);
}

function withBlind<T>(op: string, blind: boolean, fn: () => T): T {
  const previous = tracer.blind;
  tracer.blind = blind;
  let result: T;
  try {
    result = fn();
  } finally {
    tracer.blind = previous;
  }
  if (result instanceof Promise) {
    throw new ArgumentError(`${op}: fn returned a Promise, but ${op} only covers synchronous code; call ${op} inside the async function, around the synchronous work`);
  }
  return result;
}
