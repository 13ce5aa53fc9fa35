import { ArgumentError, GraphError, formatShape } from "../errors.js";
import { isTensor, type FunctionClass } from "../function.js";
import type { Tensor } from "../tensor.js";
import { enableGrad, tracer, type TraceObserver } from "../tracer.js";
import { Graph, GraphValue, type GraphNode } from "./graph.js";

/** A module as trace() sees one: called through `call` (or `forward`), named tensors from namedParameters / namedBuffers. */
export interface Traceable {
  call?(...inputs: Tensor[]): unknown;
  forward?(...inputs: Tensor[]): unknown;
  namedParameters?(): Iterable<readonly [string, Tensor]>;
  namedBuffers?(): Iterable<readonly [string, Tensor]>;
}

export type TraceTarget = Traceable | ((...inputs: Tensor[]) => unknown);

/**
 * Runs `target` (a Module or a function of tensors) once on `exampleInputs` and returns the Graph of
 * the Function calls it made, like torch.jit.trace: every call in topological order with its
 * arguments, shapes and dtypes, and which tensors are graph inputs, parameters, buffers (by the
 * module's names) or constants. Recording is on while it runs (as under enableGrad), so that every
 * operator goes through its Function; the module's training/eval mode is left as it is.
 *
 * Only what the tensors did is captured: JavaScript control flow takes the branch the example took.
 * Reading an input-dependent tensor's values inside the traced forward (item, toArray, toTypedArray,
 * argmax, eq/gt/lt) would make the graph depend on them, and throws a GraphError naming the read and
 * where it happened. Calls whose result reaches no output are dropped.
 */
export function trace(target: TraceTarget, exampleInputs: Tensor | readonly Tensor[]): Graph {
  const inputs = isTensor(exampleInputs) ? [exampleInputs] : exampleInputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every(isTensor)) {
    throw new ArgumentError(`trace: exampleInputs must be a Tensor or a non-empty array of Tensors, but got ${describeInputs(exampleInputs)}`);
  }
  const run = runner(target);
  if (tracer.observer !== null) throw new GraphError("trace: another trace is running; trace calls cannot nest");
  const recorder = new Recorder(target, inputs);
  tracer.observer = recorder;
  let result: unknown;
  try {
    result = enableGrad(() => run(inputs));
  } finally {
    tracer.observer = null;
  }
  const outputs = isTensor(result) ? [result] : Array.isArray(result) && result.length > 0 && result.every(isTensor) ? (result as Tensor[]) : null;
  if (outputs === null) throw new ArgumentError(`trace: the traced forward must return a Tensor or an array of Tensors, but returned ${describeInputs(result)}`);
  return recorder.graph(outputs.map((t) => recorder.valueOf(t, "the graph's output")), !isTensor(result));
}

function runner(target: TraceTarget): (inputs: readonly Tensor[]) => unknown {
  if (typeof target === "function") return (inputs) => target(...inputs);
  if (typeof target === "object" && target !== null) {
    const call = target.call ?? target.forward;
    if (typeof call === "function") return (inputs) => call.apply(target, [...inputs]);
  }
  throw new ArgumentError(`trace: target must be a Module (with call or forward) or a function of Tensors, but got ${describeInputs(target)}`);
}

class Recorder implements TraceObserver {
  private readonly values = new Map<Tensor, GraphValue>();
  /** Names of the module's parameters and buffers by tensor and by data buffer (Functions that take a buffer's ndarray, like batchNorm's running statistics). */
  private readonly named = new Map<Tensor, { name: string; kind: "parameter" | "buffer" }>();
  private readonly nodes: GraphNode[] = [];
  private readonly names = new Map<string, number>();
  private readonly graphInputs: GraphValue[];
  private constants = 0;

  constructor(target: TraceTarget, inputs: readonly Tensor[]) {
    if (typeof target === "object") {
      for (const [name, t] of target.namedParameters?.() ?? []) this.named.set(t, { name, kind: "parameter" });
      for (const [name, t] of target.namedBuffers?.() ?? []) this.named.set(t, { name, kind: "buffer" });
    }
    this.graphInputs = inputs.map((t, i) => {
      if (this.values.has(t)) throw new ArgumentError(`trace: exampleInputs[${i}] is the same Tensor as an earlier input; pass distinct tensors`);
      const v = new GraphValue(inputs.length === 1 ? "x" : `x${i}`, "input", t);
      this.values.set(t, v);
      return v;
    });
  }

  call(fn: FunctionClass, inputs: readonly unknown[], output: Tensor): void {
    const args = inputs.map((a) => (isTensor(a) ? this.valueOf(a, `argument of ${fn.name}`) : a));
    const name = this.uniqueName(fn.name);
    const value = new GraphValue(name, "intermediate", output);
    const node: GraphNode = { name, fn, args, inputs: args.filter((a): a is GraphValue => a instanceof GraphValue), output: value };
    value.producer = node;
    this.values.set(output, value);
    this.nodes.push(node);
  }

  read(op: string, tensor: Tensor): void {
    const v = this.values.get(tensor);
    if (v === undefined || v.isStatic) return;
    const after = this.nodes.length === 0 ? "before the first operator" : `after ${this.nodes.at(-1)!.name} (${this.nodes.at(-1)!.fn.name})`;
    throw new GraphError(
      `trace: ${op}() reads the values of ${v.kind === "input" ? "graph input" : "tensor"} ${v.name} of shape ${formatShape(v.shape)} ` +
        `inside the traced forward, ${after}${callSite()}; a captured graph cannot depend on its data (data-dependent control flow ` +
        `or values taken into JavaScript). Compute it with tensor operators, or take it out of the traced function`,
    );
  }

  valueOf(t: Tensor, where: string): GraphValue {
    const known = this.values.get(t);
    if (known !== undefined) return known;
    const named = this.named.get(t);
    if (named !== undefined) {
      const v = new GraphValue(named.name, named.kind, t);
      this.values.set(t, v);
      return v;
    }
    for (const [other, v] of this.values) {
      if (!v.isStatic && other.data.data === t.data.data) {
        throw new GraphError(
          `trace: the ${where} is a Tensor sharing ${v.name}'s buffer but made outside a Function (detach, new Tensor(x.data)); ` +
            `the graph cannot follow it: use tensor operators`,
        );
      }
    }
    const v = new GraphValue(`constant_${this.constants++}`, "constant", t);
    this.values.set(t, v);
    return v;
  }

  graph(outputs: GraphValue[], returnsArray: boolean): Graph {
    const live = new Set<GraphNode>();
    const stack = outputs.map((v) => v.producer).filter((n): n is GraphNode => n !== null);
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (live.has(node)) continue;
      live.add(node);
      for (const v of node.inputs) if (v.producer !== null) stack.push(v.producer);
    }
    const namedTensors = new Map([...this.named].map(([t, { name }]) => [name, t] as const));
    return new Graph(this.graphInputs, outputs, this.nodes.filter((n) => live.has(n)), namedTensors, returnsArray);
  }

  private uniqueName(fnName: string): string {
    const base = snakeCase(fnName.replace(/Function$/, "")) || "call";
    const n = this.names.get(base) ?? 0;
    this.names.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }
}

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2").toLowerCase();
}

/** Where the user's code made the read: the frame below the Tensor method that called Recorder.read. */
function callSite(): string {
  const frames = (new Error().stack ?? "").split("\n").filter((l) => l.trim().startsWith("at "));
  const user = frames[3];
  return user === undefined ? "" : ` (${user.trim()})`;
}

function describeInputs(value: unknown): string {
  if (isTensor(value)) return `a Tensor of shape ${formatShape(value.shape)}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return value === null ? "null" : typeof value;
}
