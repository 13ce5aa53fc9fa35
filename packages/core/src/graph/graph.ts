import type { DType } from "../dtype.js";
import { formatShape } from "../errors.js";
import type { FunctionClass } from "../function.js";
import type { Tensor } from "../tensor.js";
import { compileGraph, type CompileOptions, type CompiledForward } from "./compile.js";
import { toDot, type DotOptions } from "./dot.js";
import { toGradientDot, type GradientDotOptions } from "./gradient-dot.js";

/** Where a value of the graph comes from. */
export type ValueKind = "input" | "parameter" | "buffer" | "constant" | "intermediate";

/** One tensor of a captured forward: a graph input, a parameter, a buffer, a constant or a node's output. */
export class GraphValue {
  /** The node that computes it (intermediates only). */
  producer: GraphNode | null = null;

  constructor(
    readonly name: string,
    readonly kind: ValueKind,
    /** The value it had in the traced run (a parameter's or buffer's tensor itself). */
    readonly example: Tensor,
  ) {}

  get shape(): readonly number[] {
    return this.example.shape;
  }
  get dtype(): DType {
    return this.example.dtype;
  }
  /** No graph input reaches it: its value is fixed by parameters, buffers and constants. */
  get isStatic(): boolean {
    return this.kind === "input" ? false : this.kind !== "intermediate" ? true : this.producer!.inputs.every((v) => v.isStatic);
  }
}

/** One Function call of the captured forward. */
export interface GraphNode {
  /** Unique within the graph, from the Function's name: conv2d, conv2d_1, add, ... */
  readonly name: string;
  readonly fn: FunctionClass;
  /** The call's arguments in order: a GraphValue where apply received a Tensor, else the value it received (stride, axes, options). */
  readonly args: readonly unknown[];
  /** The GraphValues among args, in order. */
  readonly inputs: readonly GraphValue[];
  readonly output: GraphValue;
}

/**
 * The Function calls of one forward, in topological (recording) order, with the tensors they read and
 * wrote. Built by trace(); inspect `nodes`, print with `printTabular()`.
 */
export class Graph {
  constructor(
    readonly inputs: readonly GraphValue[],
    readonly outputs: readonly GraphValue[],
    readonly nodes: readonly GraphNode[],
    /** The traced module's parameters and buffers by name (empty for a function), for the ones a Function took as ndarrays. */
    readonly namedTensors: ReadonlyMap<string, Tensor> = new Map(),
    /** Whether the traced forward returned an array of tensors (else one tensor). */
    readonly returnsArray: boolean = false,
  ) {}

  /** Parameters, buffers and constants the nodes read, in first-use order. */
  get values(): GraphValue[] {
    const seen = new Set<GraphValue>();
    for (const node of this.nodes) for (const v of node.inputs) if (v.kind !== "input" && v.kind !== "intermediate") seen.add(v);
    return [...seen];
  }

  /** The parameters the nodes read. */
  get parameters(): GraphValue[] {
    return this.values.filter((v) => v.kind === "parameter");
  }

  /**
   * A table like torch.fx's print_tabular: one row per graph input, node and output, with the operator,
   * its inputs, its non-tensor arguments, and the shape and dtype it produces.
   */
  printTabular(): string {
    const rows: string[][] = [["kind", "name", "target", "args", "shape", "dtype"]];
    for (const v of this.inputs) rows.push(["input", v.name, "", "", formatShape(v.shape), v.dtype]);
    for (const node of this.nodes) {
      rows.push(["call_function", node.name, node.fn.name, node.args.map(formatArg).join(", "), formatShape(node.output.shape), node.output.dtype]);
    }
    rows.push(["output", "output", "", this.outputs.map((v) => v.name).join(", "), this.outputs.map((v) => formatShape(v.shape)).join(" "), ""]);
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    const line = (r: string[]): string => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
    return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
  }

  toString(): string {
    return this.printTabular();
  }

  /**
   * The graph prepared to run again on new inputs of the same shapes, with its buffers planned once
   * (see Session in compile.ts): returns the Tensor (or array) the traced forward returned.
   */
  compile<R extends Tensor | readonly Tensor[] = Tensor>(options: CompileOptions = {}): CompiledForward<R> {
    return compileGraph<R>(this, options);
  }

  /** The graph in Graphviz's DOT language (see toDot in dot.ts). */
  toDot(options: DotOptions = {}): string {
    return toDot(this, options);
  }

  /** The backward pass (gradient flow from the outputs to the parameters) in DOT (see toGradientDot in gradient-dot.ts). */
  toGradientDot(options: GradientDotOptions = {}): string {
    return toGradientDot(this, options);
  }
}

/** A node argument as the table and pictures show it: values by name (parameters marked), literals compactly. */
export function formatArg(arg: unknown): string {
  if (arg instanceof GraphValue) return arg.kind === "parameter" || arg.kind === "buffer" ? `%${arg.name}` : arg.name;
  return formatLiteral(arg);
}

function formatLiteral(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `[${value.map(formatLiteral).join(", ")}]`;
  if (typeof value === "object") {
    const shape = (value as { shape?: unknown }).shape;
    if (Array.isArray(shape) && (value as { data?: unknown }).data !== undefined) return `ndarray${formatShape(shape as number[])}`;
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${k}: ${formatLiteral(v)}`).join(", ")}}`;
  }
  return String(value);
}
