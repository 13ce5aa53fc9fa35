import { describe, expect, it } from "vitest";
import { Context, Function, GradcheckError, Tensor, gradcheck, kernels, tensor, type NDArray } from "./index.js";
import { inputs } from "./test-utils/index.js";

/** exp with a gradient that is off by 1% at the second element: gradcheck must catch it. */
class SlightlyWrongExp extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const out = kernels.unary("exp", a);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    const grad = kernels.binary("mul", g, ctx.savedTensors[0]!);
    grad.data[1] = grad.data[1]! * 1.01;
    return grad;
  }
}

describe("gradcheck", () => {
  it("returns true for a correct gradient", () => {
    expect(gradcheck((x) => x.exp().mul(x), inputs([[3, 4]]))).toBe(true);
  });

  it("throws a GradcheckError naming the input, element, analytic and numeric values", () => {
    const [a, b] = inputs([[2], [3]]);
    let err: unknown;
    try {
      gradcheck((x, y) => x.sum().add(SlightlyWrongExp.apply(y)), [a!, b!]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GradcheckError);
    const message = (err as Error).message;
    expect(message).toMatch(/gradient of input 1 \(shape \[3\]\) at element 1 \[1\]: analytic -?[\d.e-]+, numeric -?[\d.e-]+/);
  });

  it("checks inputs in their own memory layout, in float64, without touching the originals", () => {
    const base = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const t = base.detach().transpose();
    t.requiresGrad = true;
    const seen: string[] = [];
    const fn = (x: Tensor): Tensor => {
      seen.push(`${x.dtype} ${x.data.stride.join(",")}`);
      return x.mul(x);
    };
    expect(gradcheck(fn, [t])).toBe(true);
    expect(seen[0]).toBe("float64 1,3");
    expect(t.grad).toBeNull();
    expect(t.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  it("skips inputs that do not require grad and insists on at least one that does", () => {
    const [a] = inputs([[3]]);
    expect(gradcheck((x, c) => x.mul(c), [a!, tensor([1, 2, 3])])).toBe(true);
    expect(() => gradcheck((c) => c.mul(2), [tensor([1, 2])])).toThrow(/does not require grad/);
  });
});
