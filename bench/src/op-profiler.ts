import { Function as PicoFunction } from "@pico/core";
import type { FunctionClass, Tensor } from "@pico/core";

/** One operator call site of a pass: the k-th top-level `Function.apply` of a training step or an inference call. */
export interface OpSite {
  index: number;
  op: string;
  /** Output shape, e.g. `64x32x32x32`. */
  shape: string;
  forwardMs: number[];
  backwardMs: number[];
}

type Backward = FunctionClass["backward"];
type Apply = (this: FunctionClass, ...args: unknown[]) => Tensor;

/**
 * Times every operator call (forward through `Function.apply`, which every built-in operator goes
 * through, and each Function's static backward), per call site, for the bench's `--breakdown`. It
 * patches `Function.apply` and the backward of each Function class it sees, in this process only,
 * until `uninstall`; whatever a pass does outside operators (module glue, optimiser, buffer copies)
 * is what the step's wall time has beyond the sum of the sites.
 */
export class OpProfiler {
  private sites: OpSite[] = [];
  private next = 0;
  /** Milliseconds inside operators' forward (apply) and backward since beginPass. */
  private passForward = 0;
  private passBackward = 0;
  private depth = 0;
  private backwardDepth = 0;
  private readonly siteOfContext = new WeakMap<object, OpSite>();
  private readonly originalBackward = new Map<FunctionClass, Backward>();
  /** A Function's own backwardParts (the engine's call when its output's gradient came in parts), timed as its backward. */
  private readonly originalBackwardParts = new Map<FunctionClass, NonNullable<FunctionClass["backwardParts"]>>();
  private originalApply: Apply | null = null;

  install(): void {
    if (this.originalApply !== null) return;
    const holder = PicoFunction as unknown as { apply: Apply };
    const original = holder.apply;
    this.originalApply = original;
    const profiler = this;
    holder.apply = function profiledApply(this: FunctionClass, ...args: unknown[]): Tensor {
      if (profiler.depth > 0) return original.apply(this, args);
      profiler.wrapBackward(this);
      profiler.depth += 1;
      const t0 = performance.now();
      let out: Tensor;
      try {
        out = original.apply(this, args);
      } finally {
        profiler.depth -= 1;
      }
      const ms = performance.now() - t0;
      profiler.passForward += ms;
      const site = profiler.site(this.name, out.shape.join("x"));
      site.forwardMs.push(ms);
      const ctx = out.creator?.ctx;
      if (ctx !== null && ctx !== undefined) profiler.siteOfContext.set(ctx, site);
      return out;
    };
  }

  uninstall(): void {
    if (this.originalApply !== null) (PicoFunction as unknown as { apply: Apply }).apply = this.originalApply;
    this.originalApply = null;
    for (const [fn, backward] of this.originalBackward) Object.defineProperty(fn, "backward", { value: backward, writable: true, configurable: true });
    this.originalBackward.clear();
    for (const [fn, parts] of this.originalBackwardParts) Object.defineProperty(fn, "backwardParts", { value: parts, writable: true, configurable: true });
    this.originalBackwardParts.clear();
  }

  /** Starts a new set of sites (a training step or an inference call is one pass). */
  beginPass(): void {
    this.next = 0;
    this.passForward = 0;
    this.passBackward = 0;
  }

  /** Milliseconds spent inside operators since beginPass: their forward (apply) and their backward. */
  get passMs(): { forward: number; backward: number } {
    return { forward: this.passForward, backward: this.passBackward };
  }

  /** Starts over: the sites of another kind of pass (say inference after training). */
  reset(): void {
    this.sites = [];
    this.next = 0;
  }

  get recorded(): readonly OpSite[] {
    return this.sites;
  }

  private site(op: string, shape: string): OpSite {
    const index = this.next++;
    let site = this.sites[index];
    if (site === undefined || site.op !== op || site.shape !== shape) {
      if (site !== undefined) throw new Error(`OpProfiler: operator call ${index} of this pass is ${op} ${shape}, but in the first pass it was ${site.op} ${site.shape}; passes must run the same operators`);
      site = { index, op, shape, forwardMs: [], backwardMs: [] };
      this.sites[index] = site;
    }
    return site;
  }

  private wrapBackward(fn: FunctionClass): void {
    if (this.originalBackward.has(fn)) return;
    const original = fn.backward;
    this.originalBackward.set(fn, original);
    const profiler = this;
    // A subclass whose backward is inherited wraps its parent's wrapper: only the outer one times.
    const measure = <R>(ctx: Parameters<Backward>[0], run: () => R): R => {
      if (profiler.backwardDepth > 0) return run();
      profiler.backwardDepth += 1;
      const t0 = performance.now();
      try {
        return run();
      } finally {
        profiler.backwardDepth -= 1;
        const ms = performance.now() - t0;
        profiler.passBackward += ms;
        profiler.siteOfContext.get(ctx)?.backwardMs.push(ms);
      }
    };
    const timed: Backward = function profiledBackward(this: FunctionClass, ctx, grad) {
      return measure(ctx, () => original.call(this, ctx, grad));
    };
    Object.defineProperty(fn, "backward", { value: timed, writable: true, configurable: true });
    const parts = fn.backwardParts;
    if (parts === undefined || this.originalBackwardParts.has(fn)) return;
    this.originalBackwardParts.set(fn, parts);
    const timedParts: NonNullable<FunctionClass["backwardParts"]> = function profiledBackwardParts(this: FunctionClass, ctx, grad, more) {
      return measure(ctx, () => parts.call(this, ctx, grad, more));
    };
    Object.defineProperty(fn, "backwardParts", { value: timedParts, writable: true, configurable: true });
  }
}
