import type { Context } from "../context.js";
import type { NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { binary, unary } from "../kernels/elementwise.js";
import { selectWeights } from "../kernels/extremum-grad.js";
import { saveOperands, savedOperands } from "./matmul.js";
import { sumToShape } from "../kernels/reduce.js";

// Binary operators broadcast like NumPy; each gradient is summed back to its input's shape.

type Shapes = Context & { aShape: number[]; bShape: number[] };

export class Add extends Function {
  static override forward(ctx: Shapes, a: NDArray, b: NDArray): NDArray {
    return Add.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Shapes, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return binary("add", a, b, "add", undefined, into);
  }
  static override backward(ctx: Shapes, g: NDArray): (NDArray | null)[] {
    return [
      ctx.needsInputGrad[0] ? sumToShape(g, ctx.aShape) : null,
      ctx.needsInputGrad[1] ? sumToShape(g, ctx.bShape) : null,
    ];
  }
}

export class Sub extends Function {
  static override forward(ctx: Shapes, a: NDArray, b: NDArray): NDArray {
    return Sub.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Shapes, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return binary("sub", a, b, "sub", undefined, into);
  }
  static override backward(ctx: Shapes, g: NDArray): (NDArray | null)[] {
    return [
      ctx.needsInputGrad[0] ? sumToShape(g, ctx.aShape) : null,
      ctx.needsInputGrad[1] ? sumToShape(unary("neg", g), ctx.bShape) : null,
    ];
  }
}

export class Mul extends Function {
  static override forward(ctx: Shapes, a: NDArray, b: NDArray): NDArray {
    return Mul.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Shapes, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    saveOperands(ctx, a, b);
    return binary("mul", a, b, "mul", undefined, into);
  }
  static override backward(ctx: Shapes, g: NDArray): (NDArray | null)[] {
    const [a, b] = savedOperands(ctx);
    return [b !== null ? sumToShape(binary("mul", g, b), ctx.aShape) : null, a !== null ? sumToShape(binary("mul", g, a), ctx.bShape) : null];
  }
}

export class Div extends Function {
  static override forward(ctx: Shapes, a: NDArray, b: NDArray): NDArray {
    return Div.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Shapes, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    const out = binary("div", a, b, "div", undefined, into);
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    // As torch's DivBackward0: b always, a (never the quotient) only for b's gradient; so writing into the
    // quotient before backward is allowed and writing into a is refused exactly where torch refuses it.
    if (ctx.needsInputGrad[1]) ctx.saveForBackward(b, a);
    else ctx.saveForBackward(b);
    return out;
  }
  static override backward(ctx: Shapes, g: NDArray): (NDArray | null)[] {
    const [b, a] = ctx.savedTensors as [NDArray, NDArray | undefined];
    return [
      ctx.needsInputGrad[0] ? sumToShape(binary("div", g, b), ctx.aShape) : null,
      // d(a/b)/db = -(a/b)/b, computed as torch's div_tensor_other_backward: -g·((a/b)/b).
      a !== undefined ? sumToShape(binary("mul", unary("neg", g), binary("div", binary("div", a, b), b)), ctx.bShape) : null,
    ];
  }
}

export class Pow extends Function {
  static override forward(ctx: Context, a: NDArray, b: NDArray): NDArray {
    return Pow.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    const out = binary("pow", a, b, "pow", undefined, into);
    // torch's PowBackward1 also keeps the result for the exponent's gradient, so writing into it before
    // backward raises there; the gradient here recomputes a^b from a and b, which must be unchanged too.
    if (ctx.needsInputGrad[1]) ctx.saveForBackward(a, b, out);
    else ctx.saveForBackward(a, b);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const [a, b] = ctx.savedTensors as [NDArray, NDArray];
    const ga = ctx.needsInputGrad[0] ? binary("mul", g, binary("powBaseGrad", a, b, "pow")) : null;
    const gb = ctx.needsInputGrad[1] ? binary("mul", g, binary("powExponentGrad", a, b, "pow")) : null;
    return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
  }
}

/**
 * Elementwise maximum. As in PyTorch, equal inputs share the gradient (half each), and where
 * either is NaN (the result is NaN) both get all of it.
 */
export class Maximum extends Function {
  static override forward(ctx: Context, a: NDArray, b: NDArray): NDArray {
    return Maximum.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    ctx.saveForBackward(a, b);
    return binary("maximum", a, b, "maximum", undefined, into);
  }
  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const [a, b] = ctx.savedTensors as [NDArray, NDArray];
    return [
      ctx.needsInputGrad[0] ? sumToShape(binary("mul", g, selectWeights("maximumWeight", a, b, "maximum")), a.shape) : null,
      ctx.needsInputGrad[1] ? sumToShape(binary("mul", g, selectWeights("maximumWeight", b, a, "maximum")), b.shape) : null,
    ];
  }
}

/** Elementwise minimum; ties and NaN share the gradient as in Maximum. */
export class Minimum extends Function {
  static override forward(ctx: Context, a: NDArray, b: NDArray): NDArray {
    return Minimum.forwardInto(ctx, undefined, a, b);
  }
  /** forward writing into `into` (of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: Context, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    ctx.saveForBackward(a, b);
    return binary("minimum", a, b, "minimum", undefined, into);
  }
  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const [a, b] = ctx.savedTensors as [NDArray, NDArray];
    return [
      ctx.needsInputGrad[0] ? sumToShape(binary("mul", g, selectWeights("minimumWeight", a, b, "minimum")), a.shape) : null,
      ctx.needsInputGrad[1] ? sumToShape(binary("mul", g, selectWeights("minimumWeight", b, a, "minimum")), b.shape) : null,
    ];
  }
}
