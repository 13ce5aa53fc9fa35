import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "../tensor.js";
import { trace } from "./trace.js";

describe("Graph.toGradientDot", () => {
  it("draws the gradient from the output down through each backward to the parameters' AccumulateGrad, summing a value read twice", () => {
    const w = tensor([[1, 0], [0, 1]], { requiresGrad: true });
    const b = tensor([0.5, -0.5], { requiresGrad: true });
    const scale = tensor([2, 3]);
    const model = {
      namedParameters: () => [["fc.weight", w], ["fc.bias", b]] as [string, Tensor][],
      call: (x: Tensor): Tensor => {
        const h = x.matmul(w.transpose()).add(b).relu();
        return h.mul(h).add(scale.exp()).sum();
      },
    };
    const dot = trace(model, tensor([[1, 2], [3, 4], [5, 6]])).toGradientDot({ title: "step" });
    expect(dot.startsWith("digraph pico_backward {")).toBe(true);
    expect(dot).toContain('label="step"');
    // No gradient reaches exp(scale) (a constant) nor the input x: no box for either.
    expect(dot).not.toContain("ExpBackward");
    expect(dot).not.toContain("x.grad");
    const boxes = [...dot.matchAll(/^ {2}(b\d+) \[label="([^"]*)"/gm)].map((m) => [m[1], m[2]]);
    expect(boxes).toEqual([
      ["b0", "PermuteBackward\\npermute"],
      ["b1", "MatMulBackward\\nmat_mul"],
      ["b2", "AddBackward\\nadd"],
      ["b3", "ReluBackward\\nrelu\\ngrad summed over 2 uses"],
      ["b4", "MulBackward\\nmul"],
      ["b5", "AddBackward\\nadd_1"],
      ["b6", "SumBackward\\nsum"],
    ]);
    expect(dot).toContain('seed0 [label="d output = 1\\n[]"');
    expect(dot).toContain('seed0 -> b6 [label=" []"];');
    expect(dot).toContain('b6 -> b5 [label=" [3, 2]"];');
    expect(dot).toContain('b4 -> b3 [label=" [3, 2]"];');
    expect(dot).toContain('b1 -> b0 [label=" [2, 2]"];');
    expect(dot).toMatch(/b0 -> (l\d) \[label=" \[2, 2\]"\];/);
    expect(dot).toMatch(/l\d \[label="AccumulateGrad\\nfc.weight.grad \[2, 2\]"/);
    expect(dot).toMatch(/b2 -> l\d \[label=" \[2\]"\];/);
    expect(dot.match(/->/g)!.length).toBe(9);
  });
});
