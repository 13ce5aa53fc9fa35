import ndarray from "ndarray";
import { beforeEach, describe, expect, it } from "vitest";
import { MIN_POOLED_BYTES, clearPool, pooledByteCount } from "./buffer-pool.js";
import type { Context } from "./context.js";
import { allocate } from "./dtype.js";
import type { FloatArray, NDArray } from "./dtype.js";
import { Function } from "./function.js";
import { Generator, Tensor, tracer } from "./index.js";
import { binary } from "./kernels/elementwise.js";
import { copy, create } from "./ndarray-utils.js";

// Gradient buffers the backward engine recycles go straight back to `allocate`. Each case runs a
// graph whose gradients alias (passed through, viewed, broadcast, summed), then allocates every
// array the pool holds and scribbles on it: had the engine recycled a buffer that a gradient, a
// forward value, a saved array or a user's array still referenced, the checks below would see it.

const ROWS = 48;
const COLS = 96;
/** Big enough for the pool: 4608 float32 elements = 18 KB. */
const SHAPE = [ROWS, COLS];

function leaf(seed: number, shape: readonly number[] = SHAPE): Tensor {
  const gen = new Generator(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.zeros(shape, { requiresGrad: true });
  for (let i = 0; i < size; i++) t.data.data[i] = gen.random() * 2 - 1;
  return t;
}

/** Hands out every pooled array (each comes back from the pool) and fills it with garbage. */
function scribble(): number {
  let taken = 0;
  for (;;) {
    const before = pooledByteCount();
    if (before === 0) return taken;
    for (const length of [ROWS * COLS, 2 * ROWS * COLS, COLS * COLS, ROWS * COLS + PRIVATE_EXTRA]) {
      for (const dtype of ["float32", "float64"] as const) allocate(dtype, length).fill(1e30);
    }
    if (pooledByteCount() === before) throw new Error("scribble: the pool holds sizes this test does not allocate");
    taken += before - pooledByteCount();
  }
}

type Case = (leaves: Tensor[]) => { loss: Tensor; held: Tensor[] };

/**
 * Runs `build` twice on the same leaf values: once with retainGraph (nothing is recycled) as the
 * reference, once plainly; after scribbling over the pool, the second run's gradients and every
 * tensor the case kept must still equal the reference.
 */
function checkNoCorruption(seeds: number[], build: Case, shapes: (readonly number[])[] = seeds.map(() => SHAPE)): number {
  const refLeaves = seeds.map((s, i) => leaf(s, shapes[i]));
  const ref = build(refLeaves);
  ref.loss.backward(null, { retainGraph: true });
  const refGrads = refLeaves.map((t) => t.grad!.toArray());
  const refHeld = ref.held.map((t) => t.toArray());
  const refHeldGrads = ref.held.map((t) => t.grad?.toArray() ?? null);

  clearPool();
  const leaves = seeds.map((s, i) => leaf(s, shapes[i]));
  const run = build(leaves);
  const values = leaves.map((t) => t.toArray());
  run.loss.backward();
  const recycled = pooledByteCount();
  scribble();
  leaves.forEach((t, i) => {
    expect(t.grad!.toArray()).toEqual(refGrads[i]);
    expect(t.toArray()).toEqual(values[i]);
  });
  run.held.forEach((t, i) => {
    expect(t.toArray()).toEqual(refHeld[i]);
    expect(t.grad?.toArray() ?? null).toEqual(refHeldGrads[i]);
  });
  return recycled;
}

describe("backward recycles its own gradient buffers without corrupting anything", () => {
  beforeEach(() => clearPool());

  it("a chain of elementwise operators: intermediate gradients go back to the pool", () => {
    const recycled = checkNoCorruption([1], ([x]) => {
      const h = x!.mul(3).exp();
      return { loss: h.tanh().mul(h).sum(), held: [h] };
    });
    expect(recycled).toBeGreaterThanOrEqual(MIN_POOLED_BYTES);
  });

  it("Add passes one gradient to both inputs (leaves and intermediates)", () => {
    const recycled = checkNoCorruption([1, 2, 3], ([x, y, z]) => {
      const s = x!.add(y!);
      const t = x!.exp().add(y!.tanh());
      return { loss: s.mul(z!).add(t).sum(), held: [s, t] };
    });
    expect(recycled).toBeGreaterThan(0);
  });

  it("one tensor as both inputs of an operator, and again later", () =>
    checkNoCorruption([4], ([x]) => {
      const h = x!.tanh();
      const twice = h.add(h);
      return { loss: twice.mul(h).add(h.mul(h)).sum(), held: [h, twice] };
    }));

  it("a residual pattern: gradients summed in place into a buffer only the engine holds, then handed to .grad", () =>
    checkNoCorruption([14, 15], ([x, w]) => {
      const h = x!.mul(w!).tanh();
      const branch = h.exp().mul(h).add(h.sigmoid());
      return { loss: branch.add(h).relu().mul(w!).sum(), held: [h, branch] };
    }));

  it("views: reshape, transpose, permute and slice pass views of the gradient along", () =>
    checkNoCorruption([5, 6], ([x, w]) => {
      const v = x!.exp().reshape(COLS, ROWS).transpose();
      const p = v.add(w!).permute(1, 0).reshape(ROWS, COLS);
      return { loss: p.slice(0, 0, ROWS / 2).sum().add(p.tanh().sum()), held: [v, p] };
    }));

  it("broadcasting: a row and a column vector summed back from a full gradient", () =>
    checkNoCorruption(
      [7, 8, 9],
      ([x, row, col]) => {
        const h = x!.mul(row!).add(col!).exp();
        return { loss: h.mul(h).mean(), held: [h] };
      },
      [SHAPE, [COLS], [ROWS, 1]],
    ));

  it("matmul and a retained intermediate: its gradient is copied out before the buffer is reused", () =>
    checkNoCorruption(
      [10, 11],
      ([a, b]) => {
        const m = a!.matmul(b!);
        m.retain = true;
        const r = m.relu();
        return { loss: r.mul(m).sum(), held: [m, r] };
      },
      [[ROWS, COLS], [COLS, COLS]],
    ));

  it("a gradient the user passes to backward is never recycled", () => {
    const x = leaf(12);
    const y = x.exp().tanh();
    const g = leaf(13);
    g.requiresGrad = false;
    const given = g.toArray();
    y.backward(g);
    const grad = x.grad!.toArray();
    scribble();
    expect(g.toArray()).toEqual(given);
    expect(x.grad!.toArray()).toEqual(grad);
  });

  it("retainGraph: nothing is recycled, and a second backward gives the same gradients", () => {
    const x = leaf(14);
    const y = x.exp().mul(x).sum();
    y.backward(null, { retainGraph: true });
    expect(pooledByteCount()).toBe(0);
    const first = x.grad!.toArray();
    x.zeroGrad();
    y.backward();
    expect(x.grad!.toArray()).toEqual(first);
  });
});

// Custom Functions whose backward returns arrays the engine does not own.

class ReturnsSavedInput extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    ctx.saveForBackward(a);
    return binary("mul", a, a);
  }
  // Not the derivative: the point is that it hands back the forward input's own array.
  static override backward(ctx: Context, _g: NDArray): NDArray {
    return ctx.savedTensors[0]!;
  }
}

class SplitGradient extends Function {
  static override forward(_ctx: Context, a: NDArray, b: NDArray): NDArray {
    return binary("add", a, b);
  }
  // One buffer for both gradients: each input gets a view into half of it.
  static override backward(_ctx: Context, g: NDArray): [NDArray, NDArray] {
    const n = g.size;
    const both = allocate("float32", 2 * n);
    const flat = copy(g);
    both.set(flat.data as Float32Array, 0);
    both.set(flat.data as Float32Array, n);
    return [ndarray(both.subarray(0, n), [...g.shape]), ndarray(both.subarray(n), [...g.shape])];
  }
}

type PrivateContext = Context & { scratch: FloatArray };
const PRIVATE_EXTRA = 7;

class KeepsPrivate extends Function {
  static override forward(ctx: PrivateContext, a: NDArray): NDArray {
    // One length no other array in these tests has, so that the pool's answer is unambiguous.
    const scratch = allocate("float32", a.size + PRIVATE_EXTRA);
    for (let i = 0; i < a.size; i++) scratch[i] = 2 * (a.data[a.offset + i] as number);
    ctx.scratch = scratch;
    tracer.keepPrivate(ctx, scratch);
    return copy(a);
  }
  // d/da of a (an identity), scaled by what forward left in its private scratch, to show it is intact.
  static override backward(ctx: PrivateContext, g: NDArray): NDArray {
    const out = create("float32", g.shape);
    const flat = copy(g);
    for (let i = 0; i < g.size; i++) out.data[i] = (flat.data[i] as number) * (ctx.scratch[i] as number);
    return out;
  }
}

describe("backward and arrays it does not own", () => {
  beforeEach(() => clearPool());

  it("a saved forward array returned as a gradient stays the input's own data", () => {
    const x = leaf(20);
    const values = x.toArray();
    ReturnsSavedInput.apply(x).exp().sum().backward();
    scribble();
    expect(x.toArray()).toEqual(values);
    expect(x.grad!.toArray()).toEqual(values);
  });

  it("gradients that are views into one buffer: it is recycled only after both are consumed", () => {
    const recycled = checkNoCorruption([21, 22], ([a, b]) => {
      const ea = a!.exp();
      const tb = b!.tanh();
      const s = SplitGradient.apply(ea, tb);
      return { loss: s.mul(s).sum(), held: [ea, tb, s] };
    });
    expect(recycled).toBeGreaterThanOrEqual(2 * ROWS * COLS * 4);
  });

  it("keepPrivate: the array goes back to the pool once backward has released the call", () => {
    const x = leaf(23);
    const y = KeepsPrivate.apply(x);
    const scratch = (y.creator!.ctx as PrivateContext).scratch;
    y.sum().backward();
    const expected = x.toArray() as number[][];
    expect(x.grad!.toArray()).toEqual(expected.map((row) => row.map((v) => Math.fround(2 * v))));
    expect(allocate("float32", ROWS * COLS + PRIVATE_EXTRA)).toBe(scratch);
  });

  it("keepPrivate: kept while the graph is retained; a forward without backward hands nothing back", () => {
    const x = leaf(24);
    const y = KeepsPrivate.apply(x).sum();
    const scratch = (y.creator!.inputs![0] as Tensor).creator!.ctx as PrivateContext;
    y.backward(null, { retainGraph: true });
    expect(pooledByteCount()).toBe(0);
    const first = x.grad!.toArray();
    x.zeroGrad();
    y.backward();
    expect(x.grad!.toArray()).toEqual(first);
    expect(allocate("float32", ROWS * COLS + PRIVATE_EXTRA)).toBe(scratch.scratch);

    clearPool();
    KeepsPrivate.apply(x);
    expect(pooledByteCount()).toBe(0);
  });
});
