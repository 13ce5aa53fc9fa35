import { describe, expect, it } from "vitest";
import { GraphError } from "../errors.js";
import { Function } from "../function.js";
import type { Context } from "../context.js";
import type { NDArray } from "../dtype.js";
import { Tensor, tensor } from "../tensor.js";
import { tracer } from "../tracer.js";
import { trace } from "./trace.js";

class Double extends Function {
  static override forward(_ctx: Context, x: NDArray, _label: string): NDArray {
    const out = { ...x, data: x.data.map((v) => 2 * v) } as NDArray;
    return Object.assign(Object.create(Object.getPrototypeOf(x) as object) as NDArray, x, { data: out.data });
  }
  static override backward(_ctx: Context, g: NDArray): [NDArray, null] {
    return [g, null];
  }
}

/** A module-shaped object: what trace needs from @pico/nn's Module. */
function tinyModule() {
  const weight = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
  const bias = tensor([0.5, -0.5, 1], { requiresGrad: true });
  const scale = tensor([2]);
  return {
    weight,
    bias,
    scale,
    namedParameters: () => [["fc.weight", weight], ["fc.bias", bias]] as [string, Tensor][],
    namedBuffers: () => [["scale", scale]] as [string, Tensor][],
    call(x: Tensor): Tensor {
      return x.matmul(weight.transpose()).add(bias).relu().mul(scale).add(1);
    },
  };
}

describe("trace", () => {
  it("records every call in topological order with kinds, shapes and the values of the run", () => {
    const m = tinyModule();
    const x = tensor([[1, -1], [0.5, 2]]);
    const g = trace(m, x);
    expect(g.nodes.map((n) => n.fn.name)).toEqual(["Permute", "MatMul", "Add", "Relu", "Mul", "Add"]);
    expect(g.nodes.map((n) => n.name)).toEqual(["permute", "mat_mul", "add", "relu", "mul", "add_1"]);
    expect(g.inputs.map((v) => [v.name, v.kind, v.shape])).toEqual([["x", "input", [2, 2]]]);
    const kinds = Object.fromEntries(g.values.map((v) => [v.name, v.kind]));
    expect(kinds).toEqual({ "fc.weight": "parameter", "fc.bias": "parameter", scale: "buffer", constant_0: "constant" });
    expect(g.nodes[0]!.args[1]).toEqual([1, 0]);
    expect(g.nodes[1]!.inputs.map((v) => v.name)).toEqual(["x", "permute"]);
    expect(g.nodes[1]!.output.shape).toEqual([2, 3]);
    expect(g.nodes[0]!.output.isStatic).toBe(true);
    expect(g.nodes[1]!.output.isStatic).toBe(false);
    // The outputs' example values are the eager results: relu(x W^T + b) * 2 + 1.
    expect(g.outputs[0]!.example.toArray()).toEqual([[1, 1, 1], [(0.5 + 4 + 0.5) * 2 + 1, (1.5 + 8 - 0.5) * 2 + 1, (2.5 + 12 + 1) * 2 + 1]]);
    expect(g.outputs[0]!.dtype).toBe("float32");
  });

  it("captures calls whose inputs need no gradient, custom Functions with their literal arguments, and drops dead calls", () => {
    const x = tensor([1, 2, 3]);
    const g = trace((a: Tensor) => {
      a.exp(); // dead: reaches no output
      return Double.apply(a.neg(), "twice");
    }, [x]);
    expect(g.nodes.map((n) => `${n.name}:${n.fn.name}`)).toEqual(["neg:Neg", "double:Double"]);
    expect(g.nodes[1]!.args[1]).toBe("twice");
    expect(g.outputs[0]!.example.toArray()).toEqual([-2, -4, -6]);
  });

  it("prints a table like torch.fx's print_tabular", () => {
    const g = trace(tinyModule(), tensor([[1, 2]]));
    const lines = g.printTabular().split("\n");
    expect(lines[0]).toMatch(/^kind\s+name\s+target\s+args\s+shape\s+dtype$/);
    expect(lines[2]).toMatch(/^input\s+x\s+\[1, 2\]\s+float32$/);
    expect(lines.find((l) => l.includes("mat_mul"))).toMatch(/call_function\s+mat_mul\s+MatMul\s+x, permute\s+\[1, 3\]\s+float32/);
    expect(lines.find((l) => l.startsWith("call_function  add "))).toContain("mat_mul, %fc.bias");
    expect(lines.at(-1)).toMatch(/^output\s+output\s+add_1\s+\[1, 3\]$/);
  });

  it("refuses reading an input-dependent value inside the traced forward, naming the read and the place", () => {
    const x = tensor([1, -2]);
    const branchy = (a: Tensor): Tensor => (a.sum().item() > 0 ? a.relu() : a.neg());
    expect(() => trace(branchy, x)).toThrow(GraphError);
    expect(() => trace(branchy, x)).toThrow(/item\(\) reads the values of tensor sum of shape \[\] inside the traced forward, after sum \(Sum\) \(at .*trace\.test\.ts/);
    expect(() => trace((a: Tensor) => tensor(a.toArray() as number[]), x)).toThrow(/toArray\(\) reads the values of graph input x/);
    expect(() => trace((a: Tensor) => a.gt(0).mul(a), x)).toThrow(/gt\(\) reads/);
    expect(tracer.observer).toBeNull();
    // A parameter's value is not input-dependent: reading it is fine.
    const w = tensor([3], { requiresGrad: true });
    expect(trace((a: Tensor) => a.mul(w.item()), x).nodes.map((n) => n.fn.name)).toEqual(["Mul"]);
  });

  it("refuses a tensor that shares an intermediate's buffer but was made outside a Function", () => {
    const x = tensor([1, 2]);
    expect(() => trace((a: Tensor) => a.exp().detach().add(1), x)).toThrow(/sharing exp's buffer but made outside a Function/);
  });

  it("refuses bad targets, inputs and outputs", () => {
    expect(() => trace((a: Tensor) => a, [] as Tensor[])).toThrow(/exampleInputs must be a Tensor or a non-empty array of Tensors, but got an array of length 0/);
    expect(() => trace((a: Tensor) => a.sum().shape.length, tensor([1]))).toThrow(/must return a Tensor or an array of Tensors, but returned number/);
    expect(() => trace({} as never, tensor([1]))).toThrow(/target must be a Module/);
  });

  it("keeps float64 dtypes and works on a graph input returned unchanged", () => {
    const x = new Tensor(tensor([1, 2], { dtype: "float64" }).data);
    const g = trace((a: Tensor) => [a, a.sqrt()], x);
    expect(g.outputs.map((v) => v.name)).toEqual(["x", "sqrt"]);
    expect(g.nodes[0]!.output.dtype).toBe("float64");
  });
});
