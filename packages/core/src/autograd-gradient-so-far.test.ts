import { describe, expect, it } from "vitest";
import type { Context } from "./context.js";
import type { NDArray } from "./dtype.js";
import { Function } from "./function.js";
import { Tensor, tensor } from "./index.js";
import { copy, empty } from "./ndarray-utils.js";
import { versionOf } from "./version.js";

// Context.gradientSoFar: where a tensor feeds several calls, the backward of the one recorded last runs first;
// the engine hands the backwards after it the running sum to add their own gradient into.

/** y = 3x; backward adds 3g into the running sum when the engine hands one out (recording what it got), else returns 3g. */
class Triple extends Function {
  static seen: (NDArray | null)[] = [];
  static override forward(_ctx: Context, x: NDArray): NDArray {
    const out = empty("float32", x.shape);
    for (let i = 0; i < out.size; i++) out.data[i] = 3 * x.data[i]!;
    return out;
  }
  static override backward(ctx: Context, incoming: NDArray): NDArray[] {
    // Packed (a sum's backward hands a broadcast view).
    const g = copy(incoming);
    const sum = ctx.gradientSoFar(0);
    Triple.seen.push(sum === null ? null : copy(sum));
    const into = sum ?? empty("float32", g.shape);
    for (let i = 0; i < into.size; i++) into.data[i] = (sum === null ? 0 : into.data[i]!) + 3 * g.data[i]!;
    return [into];
  }
}

/** x·y, both arguments: with x passed twice the engine hands out nothing. */
class Product extends Function {
  static seen: (NDArray | null)[] = [];
  static override forward(ctx: Context, a: NDArray, b: NDArray): NDArray {
    ctx.saveForBackward(a, b);
    const out = empty("float32", a.shape);
    for (let i = 0; i < out.size; i++) out.data[i] = a.data[i]! * b.data[i]!;
    return out;
  }
  static override backward(ctx: Context, incoming: NDArray): NDArray[] {
    const g = copy(incoming);
    Product.seen.push(ctx.gradientSoFar(0), ctx.gradientSoFar(1));
    const [a, b] = ctx.savedTensors as [NDArray, NDArray];
    const [ga, gb] = [empty("float32", g.shape), empty("float32", g.shape)];
    for (let i = 0; i < g.size; i++) {
      ga.data[i] = g.data[i]! * b.data[i]!;
      gb.data[i] = g.data[i]! * a.data[i]!;
    }
    return [ga, gb];
  }
}

const values = (t: Tensor): number[] => Array.from(t.data.data);

describe("Context.gradientSoFar", () => {
  it("hands a backward the running sum of a tensor that feeds several calls, which it adds into (version bumped); none with retainGraph", () => {
    for (const retainGraph of [false, true]) {
      Triple.seen = [];
      const x = tensor([1, 2, 3, 4], { requiresGrad: true });
      const tripled = Triple.apply(x) as Tensor;
      // Recorded after Triple, so its backward runs first: x's gradient so far is 2·[1, 1, 1, 1].
      const doubled = x.mul(2);
      tripled.add(doubled).sum().backward(null, { retainGraph });
      expect(values(x.grad!)).toEqual([5, 5, 5, 5]);
      expect(Triple.seen.map((s) => (s === null ? null : Array.from(s.data)))).toEqual([retainGraph ? null : [2, 2, 2, 2]]);
      if (!retainGraph) expect(versionOf(x.grad!.data)).toBeGreaterThan(0);
    }
  });

  it("hands out nothing where no gradient came in yet, nor for a tensor passed twice to the call, nor outside backward", () => {
    Triple.seen = [];
    const x = tensor([1, 2], { requiresGrad: true });
    (Triple.apply(x) as Tensor).sum().backward();
    expect(Triple.seen).toEqual([null]);
    expect(values(x.grad!)).toEqual([3, 3]);
    Product.seen = [];
    const y = tensor([1, 2], { requiresGrad: true });
    const squared = Product.apply(y, y) as Tensor;
    squared.add(y.mul(2)).sum().backward();
    expect(Product.seen).toEqual([null, null]);
    expect(values(y.grad!)).toEqual([4, 6]);
    const ctx = (squared.creator as { ctx: Context | null } | null)?.ctx ?? null;
    if (ctx !== null) expect(ctx.gradientSoFar(0)).toBeNull();
  });
});
