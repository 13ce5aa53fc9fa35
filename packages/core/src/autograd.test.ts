import { describe, expect, it } from "vitest";
import { ArgumentError, Function, GraphError, ShapeError, Tensor, enableGrad, kernels, noGrad, tensor, tracer, type Context, type NDArray } from "./index.js";
import { checkGrad, expectClose } from "./test-utils/index.js";

describe("graph shapes: gradcheck", () => {
  it("diamond: two paths from x meet again", () =>
    checkGrad([[3, 7]], (x) => {
      const a = x.exp();
      const b = x.mul(2);
      const left = a.mul(b.tanh());
      const right = a.add(b.sigmoid());
      return left.div(right.add(3));
    }));
  it("a tensor used twice in one operator and again later", () => checkGrad([[7]], (x) => x.mul(x).add(x)));
  it("an intermediate used by three operators", () =>
    checkGrad([[3, 1], [1, 7]], (a, b) => {
      const h = a.matmul(b).tanh();
      return h.mul(h).sub(h.sum(0, true)).add(h.max(1, true));
    }));
  it("deep chain through every kind of operator", () =>
    checkGrad([[3, 7], [7, 1]], (x, w) =>
      x.transpose().pad([1, 0]).slice(1, 0, 3).reshape(7, 3).permute(1, 0).matmul(w).relu().logSoftmax(0).mean(),
    { avoid: [0] }));
});

describe("backward", () => {
  it("a scalar needs no gradient argument; a non-scalar does, with a clear error", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(GraphError);
    expect(() => y.backward()).toThrow(/only for a scalar output, but this tensor has shape \[3\]/);
    y.backward(tensor([1, 0, -1]));
    expect(x.grad!.toArray()).toEqual([2, 0, -2]);
  });

  it("a one-element tensor of any rank counts as a scalar", () => {
    const x = tensor([[2]], { requiresGrad: true });
    x.mul(x).backward();
    expect(x.grad!.toArray()).toEqual([[4]]);
  });

  it("a gradient argument of the wrong shape or type is refused", () => {
    const y = tensor([1, 2, 3], { requiresGrad: true }).mul(2);
    expect(() => y.backward(tensor([1, 2]))).toThrow(ShapeError);
    expect(() => y.backward(tensor([1, 2]))).toThrow(/grad must have the output's shape \[3\], but got \[2\]/);
    expect(() => y.backward([1, 2, 3] as unknown as Tensor)).toThrow(ArgumentError);
  });

  it("backward on a tensor that does not require grad says so", () => {
    expect(() => tensor([1]).mul(2).sum().backward()).toThrow(/does not require grad/);
  });

  it("a second backward after release names retainGraph", () => {
    const x = tensor(3, { requiresGrad: true });
    const y = x.mul(x);
    y.backward();
    expect(() => y.backward()).toThrow(GraphError);
    expect(() => y.backward()).toThrow(/retainGraph/);
  });

  it("a backward through a part of a released graph names retainGraph", () => {
    const x = tensor(3, { requiresGrad: true });
    const h = x.mul(x);
    h.exp().backward();
    expect(() => h.mul(2).backward()).toThrow(/retainGraph/);
  });

  it("retainGraph: true allows a second backward, and gradients accumulate", () => {
    const x = tensor(3, { requiresGrad: true });
    const y = x.mul(x);
    y.backward(undefined, { retainGraph: true });
    expect(x.grad!.item()).toBe(6);
    y.backward();
    expect(x.grad!.item()).toBe(12);
    expect(() => y.backward()).toThrow(/retainGraph/);
  });

  it(".grad accumulates across backward calls until zeroGrad", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    for (let i = 0; i < 3; i++) w.mul(tensor([3, 4])).sum().backward();
    expect(w.grad!.toArray()).toEqual([9, 12]);
    w.zeroGrad();
    expect(w.grad).toBeNull();
    w.mul(tensor([3, 4])).sum().backward();
    expect(w.grad!.toArray()).toEqual([3, 4]);
  });

  it("the accumulated .grad is not shared with the gradient tensors of the graph", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const g = tensor([5, 6]);
    x.reshape(2).backward(g);
    x.reshape(2).backward(g);
    expect(g.toArray()).toEqual([5, 6]);
    expect(x.grad!.toArray()).toEqual([10, 12]);
  });

  it("the gradient keeps the leaf's dtype when a float64 operand joins", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(tensor([3, 4], { dtype: "float64" })).sum().backward();
    expect(x.grad!.dtype).toBe("float32");
    expect(x.grad!.toArray()).toEqual([3, 4]);
  });

  it("a tensor feeding three operators gets the sum of their gradients, for every length and dtype, graph retained or not", () => {
    for (const dtype of ["float32", "float64"] as const) {
      for (const length of [1, 7, 8, 9, 16, 23, 1029]) {
        const values = (k: number) => Array.from({ length }, (_, i) => ((i * k) % 13) - 6 + 0.25 * k);
        const [a, b, c] = [1, 2, 3].map((k) => tensor(values(k), { dtype }));
        const expected = values(1).map((v, i) => v + values(2)[i]! + values(3)[i]!);
        for (const retainGraph of [false, true]) {
          const x = tensor(values(5), { requiresGrad: true, dtype });
          x.mul(a!).add(x.mul(b!)).add(x.mul(c!)).sum().backward(undefined, { retainGraph });
          expect(x.grad!.dtype).toBe(dtype);
          expect(x.grad!.toArray()).toEqual(expected);
        }
      }
    }
  });

  it("a leaf used through its transpose gets its gradient packed, every element in place (tiles and their edges)", () => {
    for (const dtype of ["float32", "float64"] as const) {
      for (const [rows, cols] of [[1, 1], [3, 17], [19, 37], [33, 16]] as const) {
        const values = Array.from({ length: rows * cols }, (_, i) => ((i * 7) % 23) - 11.5);
        const w = tensor(values, { shape: [rows, cols], requiresGrad: true, dtype });
        const c = tensor(values.map((v, i) => v * 0.5 + i), { shape: [cols, rows], dtype });
        w.permute(1, 0).mul(c).sum().backward();
        const cv = c.toArray() as number[][];
        const expected = Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, k) => cv[k]![r]!));
        expect(w.grad!.dtype).toBe(dtype);
        expect(w.grad!.toArray()).toEqual(expected);
      }
    }
  });

  it("backward on a leaf sets its own gradient", () => {
    const x = tensor(2, { requiresGrad: true });
    x.backward();
    expect(x.grad!.item()).toBe(1);
  });

  it("intermediate tensors keep no .grad; retain = true ones do", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(3);
    const kept = h.exp();
    kept.retain = true;
    kept.sum().backward();
    expect(h.grad).toBeNull();
    expect(kept.grad!.toArray()).toEqual([1, 1]);
    expectClose(x.grad!.toTypedArray(), [3 * Math.exp(3), 3 * Math.exp(6)], 0, 1e-6);
    expect(h.isLeaf).toBe(false);
    expect(x.isLeaf).toBe(true);
  });

  it("gradients flow only to inputs that require grad", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4]);
    a.mul(b).sum().backward();
    expect(b.grad).toBeNull();
    expect(a.grad!.toArray()).toEqual([3, 4]);
  });

  it("detach cuts the graph", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(x.detach()).sum();
    y.backward();
    expect(x.grad!.toArray()).toEqual([1, 2]);
  });
});

describe("noGrad", () => {
  it("records nothing and its results do not require grad", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const before = tracer.stats();
    const y = noGrad(() => x.mul(2).exp().sum());
    expect(y.requiresGrad).toBe(false);
    expect(y.creator).toBeNull();
    expect(tracer.stats()).toEqual(before);
  });

  it("nests, and enableGrad re-enables inside it", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    noGrad(() => {
      noGrad(() => expect(tracer.blind).toBe(true));
      expect(tracer.blind).toBe(true);
      expect(enableGrad(() => x.mul(2)).requiresGrad).toBe(true);
      expect(tracer.blind).toBe(true);
    });
    expect(tracer.blind).toBe(false);
  });

  it("restores the previous state when fn throws", () => {
    expect(() =>
      noGrad(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(tracer.blind).toBe(false);
    noGrad(() => {
      expect(() =>
        enableGrad(() => {
          throw new Error("boom");
        }),
      ).toThrow("boom");
      expect(tracer.blind).toBe(true);
    });
    expect(tracer.blind).toBe(false);
  });

  it("returns fn's value", () => {
    expect(noGrad(() => 42)).toBe(42);
  });

  it("refuses an async fn, whose awaited part it could not cover", () => {
    expect(() => noGrad(async () => 1)).toThrow(/noGrad: fn returned a Promise/);
    expect(() => enableGrad(async () => 1)).toThrow(/enableGrad: fn returned a Promise/);
    expect(tracer.blind).toBe(false);
  });
});

describe("tracer.stats", () => {
  it("counts recorded calls and returns to the baseline after backward", () => {
    const before = tracer.stats();
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2).add(1).sum();
    expect(tracer.stats().funcs).toBe(before.funcs + 3);
    // x and the three results; the constants 2 and 1 need no gradient and are not part of the graph.
    expect(tracer.stats().tensors).toBe(before.tensors + 4);
    y.backward();
    expect(tracer.stats()).toEqual(before);
  });

  it("retainGraph keeps the calls until the last backward", () => {
    const before = tracer.stats();
    const y = tensor([1, 2], { requiresGrad: true }).mul(2).sum();
    y.backward(undefined, { retainGraph: true });
    expect(tracer.stats().funcs).toBe(before.funcs + 2);
    y.backward();
    expect(tracer.stats()).toEqual(before);
  });

  it("operations on tensors that do not require grad record nothing", () => {
    const before = tracer.stats();
    tensor([1, 2]).mul(2).exp().sum();
    expect(tracer.stats()).toEqual(before);
  });
});

describe("gradient parts (FunctionClass.backwardParts)", () => {
  const calls: string[] = [];
  /** 2x, taking its gradient in parts where its output feeds several calls. */
  class Double extends Function {
    static override forward(_ctx: Context, x: NDArray): NDArray {
      return kernels.affine(x, 2);
    }
    static override backward(_ctx: Context, g: NDArray): NDArray {
      calls.push(`${this.name}.backward`);
      return kernels.affine(g, 2);
    }
    static backwardParts(_ctx: Context, g: NDArray, more: readonly NDArray[]): NDArray {
      calls.push(`${this.name}.backwardParts`);
      return kernels.affine(more.reduce((sum, part) => kernels.binary("add", sum, part), g), 2);
    }
  }
  /** A user's subclass whose backward halves the gradient: its backwardParts is Double's, which knows nothing of that. */
  class HalvedGradient extends Double {
    static override backward(ctx: Context, g: NDArray): NDArray {
      return kernels.affine(super.backward(ctx, g), 0.5);
    }
  }
  /** A subclass overriding both, consistently. */
  class Tripled extends Double {
    static override backward(_ctx: Context, g: NDArray): NDArray {
      calls.push(`${this.name}.backward`);
      return kernels.affine(g, 3);
    }
    static override backwardParts(_ctx: Context, g: NDArray, more: readonly NDArray[]): NDArray {
      calls.push(`${this.name}.backwardParts`);
      return kernels.affine(more.reduce((sum, part) => kernels.binary("add", sum, part), g), 3);
    }
  }

  /** x's gradient through f(x) read by two calls (y·a + y·b), and the backward methods the engine called. */
  function twoReaders(fn: typeof Double): { grad: number[]; calls: string[] } {
    calls.length = 0;
    const x = tensor([1, -2, 3], { requiresGrad: true });
    const y = fn.apply(x);
    y.mul(tensor([1, 2, 3])).add(y.mul(tensor([10, 20, 30]))).sum().backward();
    return { grad: x.grad!.toArray() as number[], calls: [...calls] };
  }

  it("an output read by two calls goes to the class's own backwardParts", () => {
    expect(twoReaders(Double)).toEqual({ grad: [22, 44, 66], calls: ["Double.backwardParts"] });
    expect(twoReaders(Tripled)).toEqual({ grad: [33, 66, 99], calls: ["Tripled.backwardParts"] });
  });

  it("a subclass that overrides backward alone gets its backward (on the summed gradient), not the backwardParts it inherits", () => {
    expect(twoReaders(HalvedGradient)).toEqual({ grad: [11, 22, 33], calls: ["HalvedGradient.backward"] });
  });
});
