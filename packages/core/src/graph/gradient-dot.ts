import { formatShape } from "../errors.js";
import type { Graph, GraphNode, GraphValue } from "./graph.js";

export interface GradientDotOptions {
  /** The picture's title (a label above it). Default none. */
  title?: string;
}

const STYLE = {
  seed: 'shape=ellipse, style=filled, fillcolor="#d4f2d4", color="#2f8f2f"',
  backward: 'shape=box, style="filled", fillcolor="#e8f0fe", color="#3b5bdb", margin="0.15,0.06"',
  accumulate: 'shape=box, style="rounded,filled", fillcolor="#fff2c6", color="#b58900", fontsize=10, margin="0.18,0.06"',
  input: 'shape=box, style="rounded,filled", fillcolor="#cfe8ff", color="#3b7dd8", fontsize=10, margin="0.18,0.06"',
} as const;

/**
 * The backward pass of a captured graph in Graphviz's DOT language, as torchviz's make_dot draws
 * autograd's graph: the gradient of each output (seeded with ones) flows from the top through one
 * box per operator's backward (in reverse topological order, as Pico's backward runs them) down to
 * the leaves that require a gradient: parameters (AccumulateGrad into `name.grad`) and inputs
 * created with requiresGrad. Edges carry the shape of the gradient; a value used several times (by
 * several operators, or twice by one) sums their gradients, which its box says. Operators no gradient passes through (every
 * input a constant, a buffer or an input without requiresGrad) are left out.
 */
export function toGradientDot(graph: Graph, options: GradientDotOptions = {}): string {
  const needsGrad = new Set<GraphValue>();
  const leafNeedsGrad = (v: GraphValue): boolean => (v.kind === "parameter" || v.kind === "input" || v.kind === "constant") && v.example.requiresGrad;
  for (const node of graph.nodes) {
    for (const v of node.inputs) if (leafNeedsGrad(v)) needsGrad.add(v);
    if (node.inputs.some((v) => needsGrad.has(v))) needsGrad.add(node.output);
  }
  const lines = [
    "digraph pico_backward {",
    "  rankdir=TB;",
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9, color="#3b5bdb"];',
  ];
  if (options.title !== undefined) lines.push(`  labelloc=t; fontsize=16; fontname="Helvetica"; label=${quote(options.title)};`);
  const boxes = new Map<GraphValue, string>();
  const sums = new Map<GraphValue, number>();
  for (const node of graph.nodes) for (const v of node.inputs) if (needsGrad.has(v)) sums.set(v, (sums.get(v) ?? 0) + 1);
  const live = graph.nodes.filter((n) => needsGrad.has(n.output));
  live.forEach((node, k) => {
    const id = `b${k}`;
    boxes.set(node.output, id);
    const fan = sums.get(node.output) ?? 0;
    const label = [`${node.fn.name.replace(/Function$/, "")}Backward`, node.name, ...(fan > 1 ? [`grad summed over ${fan} uses`] : [])].join("\n");
    lines.push(`  ${id} [label=${quote(label)}, ${STYLE.backward}];`);
  });
  let leaves = 0;
  const leafBox = (v: GraphValue): string => {
    const known = boxes.get(v);
    if (known !== undefined) return known;
    const id = `l${leaves++}`;
    boxes.set(v, id);
    const what = v.kind === "parameter" ? `AccumulateGrad\n${v.name}.grad ${formatShape(v.shape)}` : `${v.name}.grad ${formatShape(v.shape)}`;
    lines.push(`  ${id} [label=${quote(what)}, ${v.kind === "parameter" ? STYLE.accumulate : STYLE.input}];`);
    return id;
  };
  graph.outputs.forEach((v, i) => {
    if (!needsGrad.has(v)) return;
    lines.push(`  seed${i} [label=${quote(`d output${graph.outputs.length > 1 ? ` ${i}` : ""} = 1\n${formatShape(v.shape)}`)}, ${STYLE.seed}];`);
    lines.push(`  seed${i} -> ${boxes.get(v) ?? leafBox(v)} [label=${quote(` ${formatShape(v.shape)}`)}];`);
  });
  for (const node of [...live].reverse()) edgesOf(node);
  lines.push("}");
  return lines.join("\n");

  function edgesOf(node: GraphNode): void {
    const from = boxes.get(node.output)!;
    for (const v of new Set(node.inputs)) {
      if (!needsGrad.has(v)) continue;
      const to = v.producer !== null ? boxes.get(v)! : leafBox(v);
      lines.push(`  ${from} -> ${to} [label=${quote(` ${formatShape(v.shape)}`)}];`);
    }
  }
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}
