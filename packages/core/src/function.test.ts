// Written as a user would: everything comes from the package's public entry.
import { describe, expect, it } from "vitest";
import { Context, Function, GraphError, Tensor, gradcheck, kernels, noGrad, tensor, tracer, type NDArray } from "@pico/core";

/** x³, a user-defined Function. */
class Cube extends Function {
  static override forward(ctx: Context, x: NDArray): NDArray {
    ctx.saveForBackward(x);
    return kernels.binary("mul", x, kernels.unary("square", x));
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    const [x] = ctx.savedTensors;
    return kernels.binary("mul", g, kernels.affine(kernels.unary("square", x!), 3));
  }
}

interface ClampOptions {
  min: number;
  max: number;
}
type ClampCtx = Context & { options: ClampOptions };

/** Clamps into [min, max] taken from an option object (a non-tensor argument); gradient 1 inside, 0 outside. */
class Clamp extends Function {
  static override forward(ctx: ClampCtx, x: NDArray, options: ClampOptions): NDArray {
    ctx.saveForBackward(x);
    ctx.options = options;
    const lo = kernels.scalarArray(kernels.dtypeOf(x), options.min);
    const hi = kernels.scalarArray(kernels.dtypeOf(x), options.max);
    return kernels.binary("maximum", lo, minimum(x, hi));
  }
  static override backward(ctx: ClampCtx, g: NDArray): [NDArray, null] {
    const [x] = ctx.savedTensors;
    const { min, max } = ctx.options;
    const inside = kernels.binary(
      "mul",
      kernels.binary("gt", x!, kernels.scalarArray(kernels.dtypeOf(x!), min)),
      kernels.binary("lt", x!, kernels.scalarArray(kernels.dtypeOf(x!), max)),
    );
    return [kernels.binary("mul", g, inside), null];
  }
}

function minimum(a: NDArray, b: NDArray): NDArray {
  return kernels.unary("neg", kernels.binary("maximum", kernels.unary("neg", a), kernels.unary("neg", b)));
}

/** (a * b + a) * (twice ? 2 : 1): two tensor inputs and a flag. */
class MulAdd extends Function {
  static override forward(ctx: Context & { scale: number }, a: NDArray, b: NDArray, twice: boolean): NDArray {
    ctx.saveForBackward(a, b);
    ctx.scale = twice ? 2 : 1;
    return kernels.affine(kernels.binary("add", kernels.binary("mul", a, b), a), ctx.scale);
  }
  static override backward(ctx: Context & { scale: number }, g: NDArray): (NDArray | null)[] {
    const [a, b] = ctx.savedTensors as [NDArray, NDArray];
    const gs = kernels.affine(g, ctx.scale);
    return [
      ctx.needsInputGrad[0] ? kernels.sumToShape(kernels.binary("mul", gs, kernels.affine(b, 1, 1)), a.shape) : null,
      ctx.needsInputGrad[1] ? kernels.sumToShape(kernels.binary("mul", gs, a), b.shape) : null,
      null,
    ];
  }
}

/** The example of the README, verbatim: scale * x² with a non-tensor `scale`. */
class ScaledSquare extends Function {
  static override forward(ctx: Context & { scale: number }, x: NDArray, scale: number): NDArray {
    ctx.saveForBackward(x);
    ctx.scale = scale;
    return kernels.affine(kernels.unary("square", x), scale); // scale * x²
  }
  static override backward(ctx: Context & { scale: number }, g: NDArray): [NDArray, null] {
    const [x] = ctx.savedTensors;
    return [kernels.binary("mul", g, kernels.affine(x!, 2 * ctx.scale)), null]; // d/dx = 2·scale·x; none for `scale`
  }
}

const f64 = (data: number[] | number[][], requiresGrad = true): Tensor => tensor(data, { dtype: "float64", requiresGrad });

describe("a user-defined Function, through the public entry", () => {
  it("Cube: forward, backward and gradcheck", () => {
    const x = f64([1, -2, 0.5]);
    const y = Cube.apply(x);
    expect(y.toArray()).toEqual([1, -8, 0.125]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 12, 0.75]);
    expect(gradcheck((t) => Cube.apply(t), [f64([[0.3, -1.2, 2], [1, 0.1, -0.7]])])).toBe(true);
  });

  it("the README's ScaledSquare works as documented", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true, dtype: "float64" });
    expect(gradcheck((t) => ScaledSquare.apply(t, 0.5), [x])).toBe(true);
    expect(ScaledSquare.apply(x, 0.5).toArray()).toEqual([0.5, 2, 4.5]);
  });

  it("Cube composes with built-in operators and transposed inputs", () => {
    expect(gradcheck((t) => Cube.apply(t.transpose()).mul(t.transpose().exp()), [f64([[0.3, -1.2, 2], [1, 0.1, -0.7]])])).toBe(true);
  });

  it("Clamp with an option object: the option reaches forward untouched, gradient is null for it", () => {
    const x = f64([-2, -0.5, 0.5, 3]);
    const y = Clamp.apply(x, { min: -1, max: 1 });
    expect(y.toArray()).toEqual([-1, -0.5, 0.5, 1]);
    expect(gradcheck((t) => Clamp.apply(t, { min: -1, max: 1 }), [f64([-2, -0.5, 0.5, 3])])).toBe(true);
  });

  it("MulAdd with two tensors (broadcast) and a flag; needsInputGrad skips b", () => {
    expect(gradcheck((a, b) => MulAdd.apply(a, b, true), [f64([[1, 2, 3], [4, 5, 6]]), f64([0.5, -1, 2])])).toBe(true);
    const a = f64([1, 2]);
    const b = f64([3, 4], false);
    let seen: readonly boolean[] = [];
    class Spy extends MulAdd {
      static override backward(ctx: Context & { scale: number }, g: NDArray): (NDArray | null)[] {
        seen = ctx.needsInputGrad;
        return super.backward(ctx, g);
      }
    }
    Spy.apply(a, b, false).sum().backward();
    expect(seen).toEqual([true, false, false]);
    expect(a.grad!.toArray()).toEqual([4, 5]);
    expect(b.grad).toBeNull();
  });

  it("under noGrad the output does not require grad and nothing is recorded", () => {
    const before = tracer.stats();
    const y = noGrad(() => Cube.apply(f64([1, 2])));
    expect(y.requiresGrad).toBe(false);
    expect(tracer.stats()).toEqual(before);
  });
});

describe("a broken Function is an error naming it", () => {
  class WrongCount extends Function {
    static override forward(_ctx: Context, a: NDArray, _b: NDArray): NDArray {
      return kernels.copy(a);
    }
    static override backward(_ctx: Context, g: NDArray): NDArray[] {
      return [g];
    }
  }
  class WrongShape extends Function {
    static override forward(_ctx: Context, a: NDArray): NDArray {
      return kernels.copy(a);
    }
    static override backward(_ctx: Context, g: NDArray): NDArray {
      return kernels.reshapeView(g, [g.size]);
    }
  }
  class MissingGrad extends Function {
    static override forward(_ctx: Context, a: NDArray, b: NDArray): NDArray {
      return kernels.binary("add", a, b);
    }
    static override backward(_ctx: Context, g: NDArray): (NDArray | null)[] {
      return [g, null];
    }
  }
  class NoBackward extends Function {
    static override forward(_ctx: Context, a: NDArray): NDArray {
      return kernels.copy(a);
    }
  }
  class BadForward extends Function {
    static override forward(_ctx: Context, a: NDArray): NDArray {
      return a.data as unknown as NDArray;
    }
  }

  const backwardError = (fn: () => Tensor): Error => {
    const y = fn();
    try {
      y.sum().backward();
    } catch (e) {
      return e as Error;
    }
    throw new Error("backward did not throw");
  };

  it("wrong count", () => {
    const err = backwardError(() => WrongCount.apply(f64([1, 2]), f64([3, 4])));
    expect(err).toBeInstanceOf(GraphError);
    expect(err.message).toMatch(/WrongCount\.backward returned 1 gradient\(s\), but WrongCount\.apply received 2 argument\(s\)/);
  });
  it("wrong shape", () => {
    const err = backwardError(() => WrongShape.apply(f64([[1, 2], [3, 4]])));
    expect(err).toBeInstanceOf(GraphError);
    expect(err.message).toMatch(/WrongShape\.backward returned a gradient of shape \[4\] for argument 0, whose shape is \[2, 2\]/);
  });
  it("null for an input that needs a gradient", () => {
    const err = backwardError(() => MissingGrad.apply(f64([1, 2]), f64([3, 4])));
    expect(err).toBeInstanceOf(GraphError);
    expect(err.message).toMatch(/MissingGrad\.backward must return a gradient for argument 1, which requires grad, but returned null/);
  });
  it("a Tensor instead of an ndarray gets a hint", () => {
    class ReturnsTensor extends Function {
      static override forward(_ctx: Context, a: NDArray): NDArray {
        return kernels.copy(a);
      }
      static override backward(_ctx: Context, g: NDArray): NDArray {
        return new Tensor(g) as unknown as NDArray;
      }
    }
    const err = backwardError(() => ReturnsTensor.apply(f64([1, 2])));
    expect(err.message).toMatch(/ReturnsTensor\.backward must return a gradient for argument 0, .* but returned a Tensor of shape \[2\]; .*\.data/);
  });
  it("null is fine for an input that needs none", () => {
    const a = f64([1, 2]);
    MissingGrad.apply(a, f64([3, 4], false)).sum().backward();
    expect(a.grad!.toArray()).toEqual([1, 1]);
  });
  it("no backward defined", () => {
    const err = backwardError(() => NoBackward.apply(f64([1, 2])));
    expect(err).toBeInstanceOf(GraphError);
    expect(err.message).toMatch(/NoBackward must define static backward/);
  });
  it("forward returning something other than an ndarray", () => {
    expect(() => BadForward.apply(f64([1, 2]))).toThrow(GraphError);
    expect(() => BadForward.apply(f64([1, 2]))).toThrow(/BadForward\.forward must return an ndarray/);
  });
});
