import { formatShape } from "../errors.js";
import type { FunctionClass } from "../function.js";
import { formatArg, type Graph, type GraphNode, GraphValue } from "./graph.js";

export interface DotOptions {
  /** The picture's title (a label above it). Default none. */
  title?: string;
  /** Draw parameters, buffers and constants as boxes of their own (default true); false lists them in the operator's box. */
  showParameters?: boolean;
  /** Layout direction: top to bottom (default) or left to right. */
  direction?: "TB" | "LR";
}

const STYLE = {
  input: 'shape=ellipse, style=filled, fillcolor="#cfe8ff", color="#3b7dd8"',
  output: 'shape=ellipse, style=filled, fillcolor="#d4f2d4", color="#2f8f2f"',
  parameter: 'shape=box, style="rounded,filled", fillcolor="#fff2c6", color="#b58900", fontsize=10, margin="0.15,0.06"',
  buffer: 'shape=box, style="rounded,filled,dashed", fillcolor="#f3eefc", color="#7e57c2", fontsize=10, margin="0.15,0.06"',
  constant: 'shape=note, style=filled, fillcolor="#eeeeee", color="#999999", fontsize=9',
  op: 'shape=box, style="filled", fillcolor="#ffffff", color="#333333", margin="0.15,0.06"',
  staticOp: 'shape=box, style="filled,dashed", fillcolor="#fafafa", color="#999999", margin="0.15,0.06"',
} as const;

/**
 * The graph in Graphviz's DOT language: one box per operator (its name, Function and non-tensor
 * arguments), graph inputs and outputs as ellipses, parameters, buffers and constants styled apart,
 * and every edge labelled with the shape it carries. Operators no graph input reaches (computed from
 * parameters alone, folded away by an ONNX export) are dashed. Layout is left to Graphviz.
 */
export function toDot(graph: Graph, options: DotOptions = {}): string {
  const showParameters = options.showParameters ?? true;
  const lines = [
    "digraph pico {",
    `  rankdir=${options.direction ?? "TB"};`,
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
  ];
  if (options.title !== undefined) lines.push(`  labelloc=t; fontsize=16; fontname="Helvetica"; label=${quote(options.title)};`);
  const arrayNames = new Map<unknown, string>([...graph.namedTensors].map(([name, t]) => [t.data, name] as const));
  const ids = new Map<GraphValue, string>();
  graph.inputs.forEach((v, i) => {
    ids.set(v, `in${i}`);
    lines.push(`  in${i} [label=${quote(`${v.name}\n${formatShape(v.shape)} ${v.dtype}`)}, ${STYLE.input}];`);
  });
  let extra = 0;
  const source = (v: GraphValue): string | null => {
    const known = ids.get(v);
    if (known !== undefined) return known;
    if (v.kind === "intermediate" || v.kind === "input") return null;
    if (!showParameters) return null;
    const id = `v${extra++}`;
    ids.set(v, id);
    const label = v.kind === "constant" && v.example.size === 1 ? compact(v.example.data.data[v.example.data.offset]!) : `${v.name}\n${formatShape(v.shape)}`;
    lines.push(`  ${id} [label=${quote(label)}, ${STYLE[v.kind]}];`);
    return id;
  };
  graph.nodes.forEach((node, k) => {
    const id = `n${k}`;
    lines.push(`  ${id} [label=${quote(opLabel(node, showParameters, arrayNames))}, ${node.output.isStatic ? STYLE.staticOp : STYLE.op}];`);
    for (const v of node.inputs) {
      const from = source(v);
      if (from !== null) lines.push(`  ${from} -> ${id} [label=${quote(` ${formatShape(v.shape)}`)}];`);
    }
    ids.set(node.output, id);
  });
  graph.outputs.forEach((v, i) => {
    lines.push(`  out${i} [label=${quote(`output${graph.outputs.length > 1 ? ` ${i}` : ""}\n${formatShape(v.shape)} ${v.dtype}`)}, ${STYLE.output}];`);
    const from = source(v) ?? ids.get(v);
    if (from !== undefined) lines.push(`  ${from} -> out${i} [label=${quote(` ${formatShape(v.shape)}`)}];`);
  });
  lines.push("}");
  return lines.join("\n");
}

function opLabel(node: GraphNode, showParameters: boolean, arrayNames: ReadonlyMap<unknown, string>): string {
  const names = argumentNames(node.fn);
  const literals: string[] = [];
  const isOptions = (a: unknown): a is object => typeof a === "object" && a !== null && !Array.isArray(a) && !isArray(a);
  // Several options objects (a fused convolution's and pooling's): keys keep their object's name.
  const qualify = node.args.filter(isOptions).length > 1;
  node.args.forEach((a, i) => {
    if (a instanceof GraphValue) return;
    const name = names[i] ?? `arg${i}`;
    if (a === null || a === undefined) literals.push(`${name}=none`);
    else if (isOptions(a)) {
      for (const [k, v] of Object.entries(a)) if (v !== undefined) literals.push(`${qualify ? `${name}.` : ""}${k}=${literal(v, arrayNames)}`);
    } else literals.push(`${name}=${literal(a, arrayNames)}`);
  });
  const params = showParameters ? [] : node.inputs.filter((v) => v.kind !== "input" && v.kind !== "intermediate").map((v) => `${v.name} ${formatShape(v.shape)}`);
  const title = node.name === snake(node.fn.name) ? node.fn.name : `${node.name}: ${node.fn.name}`;
  return [title, ...wrapAll(literals), ...params].join("\n");
}

/** An ndarray argument (a BatchNorm's running statistics) by the buffer's name when the module has it. */
function literal(value: unknown, arrayNames: ReadonlyMap<unknown, string>): string {
  if (isArray(value)) return arrayNames.get(value) ?? `ndarray${formatShape((value as { shape: number[] }).shape)}`;
  if (typeof value === "number") return compact(value);
  return formatArg(value);
}

function isArray(value: unknown): boolean {
  return typeof value === "object" && value !== null && Array.isArray((value as { shape?: unknown }).shape) && ArrayBuffer.isView((value as { data?: unknown }).data);
}

function compact(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

/** The names of forward's arguments after ctx, read from its source (torch.fx reads signatures the same way); [] when it cannot tell. */
function argumentNames(fn: FunctionClass): string[] {
  const match = /^[^(]*\(([^)]*)\)/.exec(String(fn.forward));
  if (match === null) return [];
  const names = match[1]!.split(",").map((p) => p.replace(/=.*$/s, "").replace(/^\s*\.\.\./, "").replace(/:.*$/s, "").trim());
  return names.slice(1).every((n) => /^[A-Za-z_$][\w$]*$/.test(n)) ? names.slice(1) : [];
}

function wrapAll(parts: string[]): string[] {
  const out: string[] = [];
  let line = "";
  for (const part of parts) {
    if (line.length > 0 && line.length + part.length > 34) {
      out.push(line);
      line = part;
    } else {
      line = line.length === 0 ? part : `${line}  ${part}`;
    }
  }
  if (line.length > 0) out.push(line);
  return out;
}

function snake(name: string): string {
  return name.replace(/Function$/, "").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}
