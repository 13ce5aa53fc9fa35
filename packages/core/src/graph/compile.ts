import ndarray from "ndarray";
import ops from "ndarray-ops";
import { trackBirths } from "../buffer-pool.js";
import { Context } from "../context.js";
import { dtypeOf, type DType, type NDArray } from "../dtype.js";
import { binary } from "../kernels/elementwise.js";
import { withdrawOffer } from "../kernels/wasm/handoff.js";
import { copy } from "../ndarray-utils.js";
import { GradientBuffers } from "../gradient-buffers.js";
import { ArgumentError, ShapeError, formatShape } from "../errors.js";
import { isTensor, type FunctionClass } from "../function.js";
import { sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import { tracer } from "../tracer.js";
import { peekGrad, setUnseenGrad } from "../unseen-grad.js";
import { bumpVersion, versionOf } from "../version.js";
import { GraphValue, type Graph, type GraphNode } from "./graph.js";
import { planBuffers } from "./plan.js";
import { trace, type TraceTarget } from "./trace.js";

export interface CompileOptions {
  /**
   * Return fresh tensors (copies of the output buffers) from every call instead of the session's own
   * output tensors, which the next call overwrites (as CUDA graphs and tinygrad's TinyJit do). Costs
   * one allocation and one copy per output per call. Default false.
   */
  copyOutputs?: boolean;
  /**
   * Replay a training step's backward too: after the forward, the graph's one output (a loss) is
   * differentiated as `loss.backward()` would, every operator's backward run in reverse order on the
   * ctx its replayed forward filled, and the gradients are added into `.grad` of the parameters (and
   * inputs) that require one. Every intermediate then keeps its own buffer until the backward has
   * run (backward reads what forward saved). Default false.
   */
  backward?: boolean;
}

const OPTIONS = ["copyOutputs", "backward"] as const;

/** How a compiled graph runs, for inspection and tests. */
export interface SessionPlan {
  /** Nodes run on every call, in order. */
  readonly steps: number;
  /** ...of which write into a planned buffer (their Function has forwardInto). */
  readonly planned: number;
  /** ...of which return a view of an argument (reshape, permute): no buffer of their own. */
  readonly views: number;
  /** ...of which have no forwardInto and allocate their output on every call, by name. */
  readonly allocating: readonly string[];
  /** Nodes no graph input reaches, computed once and again only when a parameter or buffer they read changes. */
  readonly cached: number;
  /** Bytes of the one arena holding every planned buffer. */
  readonly arenaBytes: number;
  /** Bytes the planned buffers would take without reuse. */
  readonly unplannedBytes: number;
  /** With the backward option: the operators whose backward runs on every call. */
  readonly backwardSteps: number;
}

type Step = {
  readonly node: GraphNode;
  readonly fn: FunctionClass;
  /** The forward to call, bound to its Function, and its argument list (ctx, [out,] args...), rebound in place before each call. */
  readonly call: (...args: unknown[]) => NDArray;
  readonly argv: unknown[];
  /** Pairs (index into argv, value id) to refresh before the call. */
  readonly bindings: Int32Array;
  /** The value it defines. */
  readonly output: number;
  readonly kind: "into" | "view" | "allocate";
};

type Leaf = { readonly id: number; readonly tensor: Tensor; data: NDArray | null; version: number };

/** What the backward replay needs of a step: the tensor arguments that take a gradient, by argument index and value id. */
type GradientTargets = { readonly args: Int32Array; readonly ids: Int32Array };

/**
 * A captured graph prepared to run again and again (the seeds' Session): every intermediate of the
 * forward gets its buffer once, in one arena planned by liveness (a buffer is reused as soon as its
 * last reader has run), nodes run their Function's forwardInto straight into those buffers without
 * the Tracer, nodes no input reaches run once and are cached, and the same kernels run as in eager
 * mode. Made by `graph.compile()` or `compile(model, exampleInputs)`.
 *
 * Inputs must have the traced shapes and dtypes (another shape is an error: compile again for it).
 * The returned tensors are the session's own and the next call overwrites them, unless
 * `copyOutputs` was set. Parameters and buffers are read on every call, so training between calls
 * is seen; in-place writes must bump their version (optimizers do) for the cached nodes to follow.
 * With the backward option a call also replays `loss.backward()` into the parameters' `.grad`.
 */
export class Session {
  readonly plan: SessionPlan;
  private readonly values: (NDArray | null)[];
  private readonly inputIds: readonly number[];
  private readonly outputIds: readonly number[];
  private readonly steps: readonly Step[];
  private readonly cachedSteps: readonly Step[];
  /** Parameters, buffers and constants read by nodes run on every call: refreshed each call. */
  private readonly liveLeaves: readonly Leaf[];
  /** Those read by cached nodes: a change of buffer or version reruns the cached nodes. */
  private readonly cachedLeaves: readonly Leaf[];
  private cacheValid = false;
  /** With the backward option: per live step, the arguments it passes a gradient to; gradients by value id; the seed. */
  private readonly targets: readonly GradientTargets[] = [];
  private readonly grads: (NDArray | null)[] = [];
  /** Parameters (and constants) that take a gradient, and the inputs that do (by position: the call's own tensors get it). */
  private readonly gradLeaves: readonly Leaf[] = [];
  private readonly gradInputs: readonly number[] = [];
  private inputs: readonly Tensor[] = [];
  private readonly seed: NDArray | null = null;
  private readonly outputTensors: (Tensor | null)[];
  private readonly results: Tensor[];

  constructor(
    readonly graph: Graph,
    private readonly options: CompileOptions = {},
  ) {
    const unknown = Object.keys(options).filter((k) => !(OPTIONS as readonly string[]).includes(k));
    if (unknown.length > 0) throw new ArgumentError(`compile: unknown option ${unknown.map((k) => `'${k}'`).join(", ")}; the options are ${OPTIONS.map((o) => `'${o}'`).join(", ")}`);
    const backward = options.backward === true;
    const ids = new Map<GraphValue, number>();
    const all: GraphValue[] = [];
    const idOf = (v: GraphValue): number => {
      let id = ids.get(v);
      if (id === undefined) {
        id = all.length;
        ids.set(v, id);
        all.push(v);
      }
      return id;
    };
    this.inputIds = graph.inputs.map(idOf);
    for (const node of graph.nodes) {
      node.inputs.forEach(idOf);
      idOf(node.output);
    }
    this.outputIds = graph.outputs.map(idOf);
    graph.inputs.forEach((v, i) => {
      if (!graph.nodes.some((n) => n.inputs.includes(v)) && !graph.outputs.includes(v)) {
        throw new ArgumentError(
          `compile: input ${i} (${v.name}) reaches no operator of the traced forward, so a replay would ignore it; if the forward reads its ` +
            `values outside a Function (e.g. with toArray() in a custom loss), they are frozen at the example's. ` +
            `Pass it to a Function as a tensor argument (as @pico/nn's crossEntropy does with its class indices), or leave it out of the inputs`,
        );
      }
    });
    this.values = all.map(() => null);

    // With backward: which values a gradient reaches (leaves that require one, and what they feed).
    const needsGrad = new Set<GraphValue>();
    if (backward) {
      for (const v of graph.inputs) if (v.example.requiresGrad) needsGrad.add(v);
      for (const n of graph.nodes) {
        for (const v of n.inputs) if (v.kind !== "intermediate" && v.example.requiresGrad) needsGrad.add(v);
        if (n.inputs.some((v) => needsGrad.has(v))) needsGrad.add(n.output);
      }
      const out = graph.outputs[0];
      if (graph.outputs.length !== 1 || !needsGrad.has(out!)) {
        throw new ArgumentError(
          `compile: backward needs a forward that returns one tensor (a loss) computed from tensors that require grad, but it returns ` +
            `${graph.outputs.length} output${graph.outputs.length === 1 ? " that no tensor requiring grad reaches" : "s"}`,
        );
      }
    }
    // Nodes no input reaches run once and are cached, unless a gradient passes through them.
    const cachedNodes = graph.nodes.filter((n) => n.output.isStatic && !needsGrad.has(n.output));
    const liveNodes = graph.nodes.filter((n) => !(n.output.isStatic && !needsGrad.has(n.output)));
    const leavesOf = (nodes: readonly GraphNode[]): Leaf[] => {
      const leaves = new Map<number, Leaf>();
      for (const n of nodes) {
        for (const v of n.inputs) {
          if (v.kind === "parameter" || v.kind === "buffer" || v.kind === "constant") leaves.set(idOf(v), { id: idOf(v), tensor: v.example, data: null, version: -1 });
        }
      }
      return [...leaves.values()];
    };
    this.cachedLeaves = leavesOf(cachedNodes);
    this.liveLeaves = leavesOf(liveNodes);

    // Each live value's buffer: its own (planned or allocated), or the one of the argument it is a view of.
    const root = all.map((_, i) => i);
    const kinds = liveNodes.map((n): Step["kind"] => {
      if (typeof n.fn.forwardInto === "function") return "into";
      const base = n.inputs.find((v) => v.example.data.data === n.output.example.data.data);
      if (base !== undefined) {
        root[idOf(n.output)] = root[idOf(base)]!;
        return "view";
      }
      return "allocate";
    });
    const lastRead = all.map(() => -1);
    liveNodes.forEach((n, step) => {
      for (const v of n.inputs) lastRead[root[idOf(v)]!] = step;
    });
    for (const id of this.outputIds) lastRead[root[id]!] = Infinity;
    // Backward reads what each forward saved, possibly any of its arguments or its output: nothing is reused within a step.
    if (backward) lastRead.fill(Infinity);

    const plannedIds = liveNodes.map((n, step) => (kinds[step] === "into" ? idOf(n.output) : -1)).filter((id) => id >= 0);
    const requests = plannedIds.map((id) => {
      const v = all[id]!;
      return { bytes: sizeOf(v.shape) * bytesPer(v.dtype), first: liveNodes.findIndex((n) => n.output === v), last: Math.max(lastRead[id]!, liveNodes.findIndex((n) => n.output === v)) };
    });
    const layout = planBuffers(requests);
    const arena = new ArrayBuffer(Math.max(layout.arenaBytes, 8));
    plannedIds.forEach((id, i) => {
      const v = all[id]!;
      const n = sizeOf(v.shape);
      const data = v.dtype === "float64" ? new Float64Array(arena, layout.offsets[i]!, n) : new Float32Array(arena, layout.offsets[i]!, n);
      this.values[id] = ndarray(data, [...v.shape]);
    });

    const makeStep = (n: GraphNode, kind: Step["kind"]): Step => {
      const ctx = new Context(n.args.map((a) => a instanceof GraphValue && needsGrad.has(a)));
      ctx.reused = kind === "into";
      const argv: unknown[] = kind === "into" ? [ctx, this.values[idOf(n.output)]] : [ctx];
      const shift = argv.length;
      const bindings: number[] = [];
      n.args.forEach((a, i) => {
        if (a instanceof GraphValue) bindings.push(i + shift, idOf(a));
        argv.push(a instanceof GraphValue ? null : a);
      });
      const forward = (kind === "into" ? n.fn.forwardInto! : n.fn.forward) as (...args: unknown[]) => NDArray;
      return { node: n, fn: n.fn, call: forward.bind(n.fn), argv, bindings: Int32Array.from(bindings), output: idOf(n.output), kind };
    };
    this.cachedSteps = cachedNodes.map((n) => makeStep(n, "allocate"));
    this.steps = liveNodes.map((n, i) => makeStep(n, kinds[i]!));
    if (backward) {
      this.targets = liveNodes.map((n) => {
        const args = n.args.map((a, i) => (a instanceof GraphValue && needsGrad.has(a) ? i : -1)).filter((i) => i >= 0);
        return { args: Int32Array.from(args), ids: Int32Array.from(args.map((i) => idOf(n.args[i] as GraphValue))) };
      });
      this.grads = all.map(() => null);
      this.gradLeaves = all.filter((v) => needsGrad.has(v) && v.kind !== "intermediate" && v.kind !== "input").map((v) => ({ id: idOf(v), tensor: v.example, data: null, version: 0 }));
      this.gradInputs = graph.inputs.map((v, i) => (needsGrad.has(v) ? i : -1)).filter((i) => i >= 0);
      const out = graph.outputs[0]!;
      this.seed = ndarray(out.dtype === "float64" ? new Float64Array(sizeOf(out.shape)).fill(1) : new Float32Array(sizeOf(out.shape)).fill(1), [...out.shape]);
    }
    this.outputTensors = this.outputIds.map(() => null);
    this.results = this.outputIds.map(() => null as unknown as Tensor);

    this.plan = {
      steps: this.steps.length,
      planned: kinds.filter((k) => k === "into").length,
      views: kinds.filter((k) => k === "view").length,
      allocating: this.steps.filter((s) => s.kind === "allocate").map((s) => s.node.name),
      cached: this.cachedSteps.length,
      arenaBytes: layout.arenaBytes,
      unplannedBytes: requests.reduce((sum, r) => sum + r.bytes, 0),
      backwardSteps: backward ? this.targets.filter((t) => t.args.length > 0).length : 0,
    };
  }

  /**
   * Runs the graph on `inputs` (the traced shapes and dtypes) and returns its outputs, in the order
   * the traced forward returned them. The array and the tensors in it are the session's own
   * (overwritten by the next call) unless the session was compiled with copyOutputs.
   */
  run(...inputs: Tensor[]): readonly Tensor[] {
    this.bindInputs(inputs);
    const previous = tracer.blind;
    tracer.blind = true;
    try {
      this.refreshLeaves();
      for (let s = 0; s < this.steps.length; s++) this.execute(this.steps[s]!);
      if (this.seed !== null) this.backward();
    } finally {
      tracer.blind = previous;
    }
    return this.collectOutputs();
  }

  private bindInputs(inputs: readonly Tensor[]): void {
    const expected = this.graph.inputs;
    if (inputs.length !== expected.length) {
      throw new ArgumentError(`compiled graph: expected ${expected.length} input${expected.length === 1 ? "" : "s"} (as traced), but got ${inputs.length}`);
    }
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i];
      const want = expected[i]!;
      if (!isTensor(x)) throw new ArgumentError(`compiled graph: input ${i} must be a Tensor, but got ${x === null ? "null" : typeof x}`);
      if (!sameShape(x.shape, want.shape) || x.dtype !== want.dtype) {
        throw new ShapeError(
          `compiled graph: input ${i} (${want.name}) must have the traced shape ${formatShape(want.shape)} and dtype ${want.dtype}, but got ` +
            `shape ${formatShape(x.shape)} and dtype ${x.dtype}; a compiled graph runs one shape: compile again with an example of the new shape`,
        );
      }
      this.values[this.inputIds[i]!] = x.data;
    }
    this.inputs = inputs;
  }

  private refreshLeaves(): void {
    for (const leaf of this.liveLeaves) this.values[leaf.id] = leaf.tensor.data;
    let stale = !this.cacheValid;
    for (const leaf of this.cachedLeaves) {
      const data = leaf.tensor.data;
      if (data !== leaf.data || versionOf(data) !== leaf.version) stale = true;
    }
    if (!stale) return;
    for (const leaf of this.cachedLeaves) {
      leaf.data = leaf.tensor.data;
      leaf.version = versionOf(leaf.data);
      this.values[leaf.id] = leaf.data;
    }
    for (const step of this.cachedSteps) this.execute(step);
    this.cacheValid = true;
  }

  /**
   * loss.backward() over the replayed forward, in the order eager's runBackward takes (reverse
   * recording order, gradients of a value read several times summed in that order), then
   * accumulated into the leaves' .grad as eager does.
   */
  private backward(): void {
    const grads = this.grads;
    grads.fill(null);
    // A backward may write into the gradient it receives (the seed, at the top) and return it.
    this.seed!.data.fill(1);
    // A kernel's offer lives within one pass (kernels/wasm/handoff.ts).
    withdrawOffer();
    grads[this.outputIds[0]!] = this.seed;
    // Gradient buffers the pass allocates go back to the buffer pool once consumed, as in eager's runBackward.
    const buffers = new GradientBuffers();
    trackBirths(buffers.births, () => {
      buffers.hold(this.seed!);
      for (let s = this.steps.length - 1; s >= 0; s--) {
        const step = this.steps[s]!;
        const targets = this.targets[s]!;
        const g = grads[step.output];
        const ctx = step.argv[0] as Context;
        if (g !== null && g !== undefined && targets.args.length > 0) {
          grads[step.output] = null;
          this.propagate(step, targets, g, buffers);
          buffers.drop(g);
        }
        // What the forward declared private to its ctx (arg-max indices) is dead now.
        for (const a of tracer.takePrivate(ctx)) buffers.dropPrivate(a);
      }
      const accumulate = (t: Tensor, id: number): void => {
        const g = grads[id];
        if (g === null || g === undefined) return;
        // As eager backward: a fresh .grad nobody else has seen, recycled when dropped unread (unseen-grad.ts).
        const grad = peekGrad(t);
        if (grad === null) setUnseenGrad(t, new Tensor(copy(g, t.dtype)));
        // No version bump: an offer of .grad's old values ends with the pass (withdrawOffer below).
        else ops.addeq(grad.data, g);
        buffers.drop(g);
      };
      for (const leaf of this.gradLeaves) accumulate(leaf.tensor, leaf.id);
      for (const i of this.gradInputs) accumulate(this.inputs[i]!, this.inputIds[i]!);
    });
    withdrawOffer();
  }

  private propagate(step: Step, targets: GradientTargets, g: NDArray, buffers: GradientBuffers): void {
    const grads = this.grads;
    const result = step.fn.backward(step.argv[0] as Context, g);
    for (let k = 0; k < targets.args.length; k++) {
      const gi = (Array.isArray(result) ? (result as (NDArray | null)[])[targets.args[k]!] : (result as NDArray))!;
      const id = targets.ids[k]!;
      // An incoming gradient written in place and returned: the write voids a kernel's offer of its old contents (autograd.ts).
      if (gi.data === g.data) bumpVersion(gi);
      const want = dtypeOf(this.values[id]!);
      const gt = dtypeOf(gi) === want ? gi : copy(gi, want);
      const previous = grads[id];
      const sum = previous === null || previous === undefined ? gt : binary("add", previous, gt);
      grads[id] = sum;
      buffers.hold(sum);
      if (gt !== gi) buffers.discard(gi);
      if (previous !== null && previous !== undefined) {
        buffers.drop(previous);
        buffers.discard(gt);
      }
    }
  }

  private execute(step: Step): void {
    const argv = step.argv;
    const bindings = step.bindings;
    const values = this.values;
    for (let b = 0; b < bindings.length; b += 2) argv[bindings[b]!] = values[bindings[b + 1]!];
    const out = step.call(...argv);
    if (step.kind !== "into") values[step.output] = out;
  }

  private collectOutputs(): readonly Tensor[] {
    for (let i = 0; i < this.outputIds.length; i++) {
      const data = this.values[this.outputIds[i]!]!;
      if (this.options.copyOutputs === true) {
        this.results[i] = new Tensor(ndarray(data.data.slice(data.offset, data.offset + data.size), [...data.shape]));
        continue;
      }
      let t = this.outputTensors[i];
      if (t === null || t === undefined || t.data !== data) {
        t = new Tensor(data);
        this.outputTensors[i] = t;
      }
      this.results[i] = t;
    }
    return this.results;
  }
}

/** A compiled forward: call it as the traced function; `session` runs it and says how. */
export interface CompiledForward<R extends Tensor | readonly Tensor[] = Tensor> {
  (...inputs: Tensor[]): R;
  readonly session: Session;
  readonly graph: Graph;
}

/**
 * Traces `target` (a Module or a function of tensors) on `exampleInputs` and returns a function that
 * replays the captured forward on new inputs of the same shapes (see Session): buffers planned once,
 * no autograd bookkeeping, the kernels of eager mode. It returns a Tensor where the traced forward
 * returned one, and an array of Tensors where it returned an array. What the trace captured is
 * replayed: a Module's training/eval mode and JavaScript branches as they were when compiled.
 */
export function compile<R extends Tensor | readonly Tensor[] = Tensor>(
  target: TraceTarget,
  exampleInputs: Tensor | readonly Tensor[],
  options: CompileOptions = {},
): CompiledForward<R> {
  return compileGraph<R>(trace(target, exampleInputs), options);
}

/** The Session of an already captured graph, as a function (what graph.compile() returns). */
export function compileGraph<R extends Tensor | readonly Tensor[] = Tensor>(graph: Graph, options: CompileOptions = {}): CompiledForward<R> {
  const session = new Session(graph, options);
  const single = !graph.returnsArray;
  const run = (...inputs: Tensor[]): R => {
    const out = session.run(...inputs);
    return (single ? out[0]! : options.copyOutputs === true ? [...out] : out) as R;
  };
  return Object.assign(run, { session, graph });
}

function bytesPer(dtype: DType): number {
  return dtype === "float64" ? 8 : 4;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
