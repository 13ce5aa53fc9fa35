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
  /** The graph-use counters of the tensors that require grad among its inputs and output (see Tracer.stats). */
  uses: readonly GraphUse[];
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
 * How many live recorded calls one tensor takes part in (Tracer.stats): kept on the tensor (created the
 * first time it enters a recorded call) and shared with those calls' records, instead of a count per
 * tensor id in a Map that every call sets and every release deletes. A collected call's records hold
 * only these counters, never the tensors.
 *
 * A class, not an object literal: V8 decides per literal whether to allocate its objects straight into
 * the old generation, and these counters (long-lived on parameters, short on activations) flipped that
 * decision at scavenges, discarding Function.apply's and record's optimized code each time.
 */
export class GraphUse {
  calls = 0;
}

let graphUseOf: ((tensor: Tensor) => GraphUse) | null = null;

/** Called once by tensor.ts, which keeps each tensor's counter in a private field. */
export function registerGraphUse(accessor: (tensor: Tensor) => GraphUse): void {
  graphUseOf = accessor;
}

/** What takePrivate returns for a call without private arrays (most calls), instead of a new empty array each time. */
const NO_ARRAYS: readonly FloatArray[] = Object.freeze([]);

/**
 * Records Function calls while gradients are wanted. The graph itself hangs off the tensors
 * (each output points at the call that made it), so a result dropped without backward is
 * garbage-collected with its graph; the pools count what is live, to make leaks testable.
 */
export class Tracer {
  /** When true nothing is recorded and no output requires grad (see noGrad). */
  blind = false;
  /** Set while trace() runs (see graph/trace.ts); null otherwise. */
  observer: TraceObserver | null = null;
  private nextId = 0;
  private liveCalls = 0;
  /** Tensors whose GraphUse counts at least one live call. */
  private liveTensors = 0;
  // Held values are counters, not tensors, so a collected call's bookkeeping keeps no tensor alive.
  private readonly collected = new FinalizationRegistry<readonly GraphUse[]>((uses) => this.forget(uses));

  record(fn: FunctionClass, ctx: Context, inputs: readonly unknown[], output: Tensor): CallRecord {
    // Indexed loops: an iterator per loop is garbage on every operator call where the JIT does not remove it.
    // Counted first, so that the array is allocated at its size (one pushed onto grows a spare backing store).
    let count = 1;
    for (let i = 0; i < inputs.length; i++) if (graphInput(inputs, i)) count++;
    const useOf = graphUseOf!;
    const uses = new Array<GraphUse>(count);
    uses[0] = useOf(output);
    let filled = 1;
    for (let i = 0; i < inputs.length; i++) if (graphInput(inputs, i)) uses[filled++] = useOf(inputs[i] as Tensor);
    const call: CallRecord = { id: this.nextId++, fn, ctx, inputs, output, released: false, uses, walk: 0 };
    for (let i = 0; i < uses.length; i++) if (uses[i]!.calls++ === 0) this.liveTensors++;
    this.liveCalls += 1;
    this.collected.register(call, uses, call);
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
    this.forget(call.uses);
  }

  /**
   * Declares arrays that only `ctx` references (say im2col columns a forward keeps for its backward,
   * never returned or shared with an output): once a backward without retainGraph has run and
   * released the call, they go back to the buffer pool for reuse. A graph dropped without backward
   * leaves them to the garbage collector.
   */
  keepPrivate(ctx: Context, ...arrays: FloatArray[]): void {
    if (arrays.length === 0) return;
    const list = ctx.privateArrays;
    // The rest parameter is a fresh array already: kept as it is.
    if (list === null) ctx.privateArrays = arrays;
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
    const list = ctx.privateArrays;
    if (list === null) return NO_ARRAYS;
    ctx.privateArrays = null;
    return list;
  }

  stats(): TracerStats {
    return { tensors: this.liveTensors, funcs: this.liveCalls };
  }

  private forget(uses: readonly GraphUse[]): void {
    this.liveCalls -= 1;
    for (let i = 0; i < uses.length; i++) if (--uses[i]!.calls === 0) this.liveTensors--;
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
