import type { Context } from "../context.js";
import type { NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { binary, unary } from "../kernels/elementwise.js";
import { clampMask, clampValues } from "../kernels/extremum-grad.js";

export class Neg extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Neg.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(_ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    return unary("neg", a, into);
  }
  static override backward(_ctx: Context, g: NDArray): NDArray {
    return unary("neg", g);
  }
}

export class Exp extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Exp.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    const out = unary("exp", a, into);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("mul", g, ctx.savedTensors[0]!);
  }
}

export class Log extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Log.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    ctx.saveForBackward(a);
    return unary("log", a, into);
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("div", g, ctx.savedTensors[0]!);
  }
}

export class Sqrt extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Sqrt.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    const out = unary("sqrt", a, into);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    // out + out rather than 2 * out + 0, which would turn sqrt(-0) = -0 into +0 (torch: g / -0 = -inf).
    const out = ctx.savedTensors[0]!;
    return binary("div", g, binary("add", out, out));
  }
}

/** |x|; the gradient at 0 is 0, as in PyTorch. */
export class Abs extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Abs.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    ctx.saveForBackward(a);
    return unary("abs", a, into);
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("absGrad", g, ctx.savedTensors[0]!);
  }
}

/** max(x, 0); the gradient at exactly 0 is 0, as in PyTorch. */
export class Relu extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Relu.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    const out = unary("relu", a, into);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("reluGrad", g, ctx.savedTensors[0]!);
  }
}

export class Sigmoid extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Sigmoid.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    const out = unary("sigmoid", a, into);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("sigmoidGrad", g, ctx.savedTensors[0]!);
  }
}

export class Tanh extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    return Tanh.forwardInto(ctx, undefined, a);
  }
  /** forward writing into `into` (of a's shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray): NDArray {
    const out = unary("tanh", a, into);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("tanhGrad", g, ctx.savedTensors[0]!);
  }
}

/** Limits to [min, max] (an omitted bound is infinite); NaN stays NaN. Gradient 1 inside, bounds included, 0 outside and at NaN, as PyTorch. */
export class Clamp extends Function {
  static override forward(ctx: Context & { min: number; max: number }, a: NDArray, min: number, max: number): NDArray {
    ctx.saveForBackward(a);
    ctx.min = min;
    ctx.max = max;
    return clampValues(a, min, max);
  }
  static override backward(ctx: Context & { min: number; max: number }, g: NDArray): [NDArray, null, null] {
    return [binary("mul", g, clampMask(ctx.savedTensors[0]!, ctx.min, ctx.max)), null, null];
  }
}
