import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../tensor.js";
import { trace } from "./trace.js";

function block() {
  const w = tensor([[1, 0], [0, 1]], { requiresGrad: true });
  const b = tensor([0.5, -0.5], { requiresGrad: true });
  return {
    namedParameters: () => [["fc.weight", w], ["fc.bias", b]] as [string, Tensor][],
    call: (x: Tensor): Tensor => x.matmul(w.transpose()).add(b).relu().add(x).softmax(1),
  };
}

describe("Graph.toDot", () => {
  it("draws one box per operator with its named arguments, inputs/parameters/outputs styled apart, edges labelled with shapes", () => {
    const dot = trace(block(), tensor([[1, 2], [3, 4], [5, 6]])).toDot({ title: 'a "block"' });
    expect(dot.startsWith("digraph pico {")).toBe(true);
    expect(dot.endsWith("}")).toBe(true);
    expect(dot).toContain('label="a \\"block\\""');
    expect(dot).toMatch(/in0 \[label="x\\n\[3, 2\] float32", shape=ellipse, style=filled, fillcolor="#cfe8ff"/);
    expect(dot).toMatch(/v0 \[label="fc.weight\\n\[2, 2\]", shape=box, style="rounded,filled", fillcolor="#fff2c6"/);
    // Permute of a parameter alone is static (dashed); the softmax names its axis argument.
    expect(dot).toMatch(/n0 \[label="Permute\\ndims=\[1, 0\]", shape=box, style="filled,dashed"/);
    expect(dot).toMatch(/n5 \[label="Softmax\\naxis=1", shape=box, style="filled"/);
    // The residual edge: the input feeds the matmul and the second add.
    expect(dot).toContain('in0 -> n1 [label=" [3, 2]"];');
    expect(dot).toContain('in0 -> n4 [label=" [3, 2]"];');
    expect(dot).toContain('n5 -> out0 [label=" [3, 2]"];');
    expect(dot.match(/->/g)!.length).toBe(10);
  });

  it("lists parameters inside the operator's box with showParameters false", () => {
    const dot = trace(block(), tensor([[1, 2]])).toDot({ showParameters: false, direction: "LR" });
    expect(dot).toContain("rankdir=LR;");
    expect(dot).not.toContain("fc.weight\\n");
    expect(dot).toMatch(/n2 \[label="Add\\nfc.bias \[2\]"/);
  });
});
