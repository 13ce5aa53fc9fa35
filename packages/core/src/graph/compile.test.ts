import { describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import type { NDArray } from "../dtype.js";
import { ArgumentError, ShapeError } from "../errors.js";
import { Function } from "../function.js";
import { unary } from "../kernels/elementwise.js";
import { Generator } from "../random.js";
import { Tensor, tensor } from "../tensor.js";
import { noGrad, tracer } from "../tracer.js";
import { compile } from "./compile.js";
import { trace } from "./trace.js";
import { countTypedArrays } from "./typed-array-count.js";

/** A module-shaped object of two layers: matmul with a transposed weight (a node no input reaches), bias, relu, scale, tanh. */
function mlp(seed = 0) {
  const g = new Generator(seed);
  const w1 = Tensor.randn([32, 16], { generator: g, requiresGrad: true });
  const b1 = Tensor.randn([32], { generator: g, requiresGrad: true });
  const w2 = Tensor.randn([8, 32], { generator: g, requiresGrad: true });
  const scale = tensor([0.5]);
  return {
    w1,
    namedParameters: () => [["fc1.weight", w1], ["fc1.bias", b1], ["fc2.weight", w2]] as [string, Tensor][],
    namedBuffers: () => [["scale", scale]] as [string, Tensor][],
    call(x: Tensor): Tensor {
      const h = x.matmul(w1.transpose()).add(b1).relu().mul(scale);
      return h.matmul(w2.transpose()).tanh().sub(h.sum(1, true).sigmoid());
    },
  };
}

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.toTypedArray()).buffer));

describe("compile", () => {
  it("replays new inputs of the traced shape bit for bit as eager does, with every intermediate in a planned buffer", () => {
    const m = mlp();
    const f = compile(m, Tensor.randn([4, 16], { generator: new Generator(1) }));
    for (const seed of [2, 3, 4]) {
      const x = Tensor.randn([4, 16], { generator: new Generator(seed) });
      expect(bits(f(x))).toEqual(bits(noGrad(() => m.call(x))));
    }
    const plan = f.session.plan;
    // The transposes of the weights run once and are cached; matmul and sum have no forwardInto (they allocate).
    expect(plan.cached).toBe(2);
    expect(plan.allocating).toEqual(["mat_mul", "mat_mul_1", "sum"]);
    expect(plan.planned).toBe(plan.steps - 3);
    expect(plan.arenaBytes).toBeLessThan(plan.unplannedBytes);
  });

  it("records nothing for autograd and leaves noGrad / enableGrad as they were", () => {
    const m = mlp();
    const x = Tensor.randn([4, 16], { generator: new Generator(1), requiresGrad: true });
    const f = compile(m, x);
    const before = tracer.stats();
    const y = f(x);
    expect(y.requiresGrad).toBe(false);
    expect(tracer.blind).toBe(false);
    expect(tracer.stats()).toEqual(before);
    noGrad(() => f(x));
    expect(tracer.blind).toBe(false);
  });

  it("returns the session's output tensor, overwritten by the next call; copyOutputs returns fresh ones", () => {
    const m = mlp();
    const [x1, x2] = [5, 6].map((s) => Tensor.randn([4, 16], { generator: new Generator(s) }));
    const f = compile(m, x1!);
    const first = f(x1!);
    const kept = bits(first);
    expect(f(x2!)).toBe(first);
    expect(bits(first)).toEqual(bits(noGrad(() => m.call(x2!))));
    const copying = compile(m, x1!, { copyOutputs: true });
    const a = copying(x1!);
    const b = copying(x2!);
    expect(a).not.toBe(b);
    expect(bits(a)).toEqual(kept);
  });

  it("after the first call, allocates no typed array in any call where every Function has forwardInto", () => {
    const w = Tensor.randn([64, 64], { generator: new Generator(7) });
    const b = Tensor.randn([64], { generator: new Generator(8) });
    const f = compile((x: Tensor) => x.addmm(x, w).relu().mul(b).sqrt().exp().div(x.abs().add(1)), Tensor.randn([64, 64]));
    const x = Tensor.randn([64, 64], { generator: new Generator(9) });
    f(x);
    expect(f.session.plan.allocating).toEqual([]);
    const counted = countTypedArrays(() => {
      for (let i = 0; i < 200; i++) f(x);
    });
    expect(counted).toEqual({ arrays: 0, bytes: 0 });
    const eager = countTypedArrays(() => noGrad(() => x.addmm(x, w).relu().mul(b).sqrt().exp().div(x.abs().add(1))));
    expect(eager.arrays).toBeGreaterThanOrEqual(1);
  });

  it("keeps a linear layer's weight in the GEMM's module memory: eager's bits, no typed array per call, copied again after an in-place write", () => {
    const g = new Generator(11);
    const w = Tensor.randn([120, 400], { generator: g });
    const b = Tensor.randn([120], { generator: g });
    const fc = (x: Tensor): Tensor => b.addmm(x, w.transpose()).relu();
    const f = compile(fc, Tensor.zeros([1, 400]));
    const x = Tensor.randn([1, 400], { generator: g });
    expect(bits(f(x))).toEqual(bits(noGrad(() => fc(x))));
    expect(countTypedArrays(() => {
      for (let i = 0; i < 100; i++) f(x);
    })).toEqual({ arrays: 0, bytes: 0 });
    w.data.data.forEach((v, i, data) => (data[i] = v * 0.5 - 0.01));
    w.bumpVersion();
    const after = bits(f(x));
    expect(after).toEqual(bits(noGrad(() => fc(x))));
    expect(after).not.toEqual(bits(noGrad(() => b.addmm(x, w.mul(2).add(0.02).transpose()).relu())));
  });

  it("sees parameters trained between calls: cached nodes rerun when a parameter's version changes", () => {
    const m = mlp();
    const x = Tensor.randn([4, 16], { generator: new Generator(1) });
    const f = compile(m, x);
    const before = bits(f(x));
    m.w1.data.data.forEach((v, i, data) => (data[i] = -v));
    m.w1.bumpVersion();
    const after = bits(f(x));
    expect(after).not.toEqual(before);
    expect(after).toEqual(bits(noGrad(() => m.call(x))));
  });

  it("refuses another shape or dtype, naming the traced one, and a wrong count of inputs", () => {
    const f = compile(mlp(), Tensor.randn([4, 16]));
    expect(() => f(Tensor.randn([5, 16]))).toThrow(ShapeError);
    expect(() => f(Tensor.randn([5, 16]))).toThrow(
      "compiled graph: input 0 (x) must have the traced shape [4, 16] and dtype float32, but got shape [5, 16] and dtype float32; " +
        "a compiled graph runs one shape: compile again with an example of the new shape",
    );
    expect(() => f(Tensor.randn([4, 16], { dtype: "float64" }))).toThrow("but got shape [4, 16] and dtype float64");
    expect(() => f()).toThrow("compiled graph: expected 1 input (as traced), but got 0");
    expect(() => compile(mlp(), Tensor.randn([4, 16]), { inPlace: true } as never)).toThrow(ArgumentError);
  });

  it("replays a custom Function without forwardInto through its forward, and returns arrays as the forward did", () => {
    class Square extends Function {
      static override forward(_ctx: Context, x: NDArray): NDArray {
        return unary("square", x);
      }
      static override backward(_ctx: Context, g: NDArray): NDArray {
        return g;
      }
    }
    const fn = (a: Tensor, b: Tensor): Tensor[] => [Square.apply(a.add(b)).neg(), a.mul(b).reshape([6])];
    const [a, b] = [tensor([[1, -2, 3], [0.5, 2, -1]]), tensor([1, 1, -1])];
    const f = compile<Tensor[]>(fn, [a, b]);
    const [c, d] = [tensor([[2, 0, -3], [1, 1, 1]]), tensor([-1, 2, 0.5])];
    const [y, z] = f(c, d);
    expect(y!.toArray()).toEqual([[-1, -4, -6.25], [-0, -9, -2.25]]);
    expect(z!.toArray()).toEqual([-2, 0, -1.5, -1, 2, 0.5]);
    expect(f.session.plan.allocating).toEqual(["square"]);
    expect(f.session.plan.views).toBe(1);
  });

  it("is what graph.compile() returns for a graph already traced", () => {
    const m = mlp();
    const x = Tensor.randn([4, 16], { generator: new Generator(3) });
    const graph = trace(m, x);
    expect(bits(graph.compile()(x))).toEqual(bits(noGrad(() => m.call(x))));
  });
});

describe("compile with backward", () => {
  it("refuses an input no operator reads (its values would be frozen at the example's)", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(() => compile((x: Tensor, y: Tensor) => x.mul(w).sum().add(y.data.data[0]!), [tensor([1, 1]), tensor([3])])).toThrow(
      /^compile: input 1 \(x1\) reaches no operator of the traced forward/,
    );
  });

  it("gives loss.backward()'s gradients, bit for bit, accumulated into .grad; a forward without a tensor requiring grad is refused", () => {
    const make = () => ({ w: Tensor.randn([16, 8], { generator: new Generator(1), requiresGrad: true }), b: Tensor.randn([8], { generator: new Generator(2), requiresGrad: true }) });
    const loss = (p: { w: Tensor; b: Tensor }) => (x: Tensor) => p.b.addmm(x, p.w).relu().mul(x.sum(1, true)).tanh().sum();
    const x = Tensor.randn([4, 16], { generator: new Generator(3) });
    const eager = make();
    loss(eager)(x).backward();
    const replayed = make();
    const step = compile(loss(replayed), Tensor.zeros([4, 16]), { backward: true });
    expect(step(x).item()).toBe(loss(make())(x).item());
    expect(bits(replayed.w.grad!)).toEqual(bits(eager.w.grad!));
    expect(bits(replayed.b.grad!)).toEqual(bits(eager.b.grad!));
    step(x);
    expect(bits(replayed.b.grad!)).toEqual(bits(eager.b.grad!.mul(2)));
    expect(step.session.plan.backwardSteps).toBe(5);
    // An input traced with requiresGrad gets its gradient in the tensor passed to each call.
    const w2 = tensor([1, -2, 3], { requiresGrad: true });
    const withInput = compile((t: Tensor) => t.mul(w2).square().sum(), tensor([0, 0, 0], { requiresGrad: true }), { backward: true });
    const a = tensor([1, 1, 2], { requiresGrad: true });
    withInput(a);
    expect(a.grad!.toArray()).toEqual([2, 8, 36]);
    expect(w2.grad!.toArray()).toEqual([2, -4, 24]);
    // A backward that writes into the gradient it receives, at the top of the graph, gets ones on every call.
    class Halve extends Function {
      static override forward(_ctx: Context, x: NDArray): NDArray {
        return unary("neg", unary("neg", x));
      }
      static override backward(_ctx: Context, g: NDArray): NDArray[] {
        for (let i = 0; i < g.data.length; i++) g.data[i] = g.data[i]! / 2;
        return [g];
      }
    }
    const w3 = tensor([1, -2, 3], { requiresGrad: true });
    const halved = compile((t: Tensor) => Halve.apply(t.mul(w3).sum()) as Tensor, tensor([0, 0, 0]), { backward: true });
    for (let call = 0; call < 3; call++) {
      w3.grad = null;
      halved(tensor([2, 4, 6]));
      expect(w3.grad!.toArray()).toEqual([1, 2, 3]);
    }
    expect(() => compile((t: Tensor) => t.relu().sum(), Tensor.zeros([2]), { backward: true })).toThrow(
      "compile: backward needs a forward that returns one tensor (a loss) computed from tensors that require grad, but it returns 1 output that no tensor requiring grad reaches",
    );
  });
});
