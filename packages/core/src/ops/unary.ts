import type { Context } from "../context.js";
import type { NDArray } from "../dtype.js";
import { Function } from "../function.js";
import { affine, binary, unary } from "../kernels/elementwise.js";

export class Neg extends Function {
  static override forward(_ctx: Context, a: NDArray): NDArray {
    return unary("neg", a);
  }
  static override backward(_ctx: Context, g: NDArray): NDArray {
    return unary("neg", g);
  }
}

export class Exp extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const out = unary("exp", a);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("mul", g, ctx.savedTensors[0]!);
  }
}

export class Log extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    ctx.saveForBackward(a);
    return unary("log", a);
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("div", g, ctx.savedTensors[0]!);
  }
}

export class Sqrt extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const out = unary("sqrt", a);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("div", g, affine(ctx.savedTensors[0]!, 2));
  }
}

/** |x|; the gradient at 0 is 0, as in PyTorch. */
export class Abs extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    ctx.saveForBackward(a);
    return unary("abs", a);
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("absGrad", g, ctx.savedTensors[0]!);
  }
}

/** max(x, 0); the gradient at exactly 0 is 0, as in PyTorch. */
export class Relu extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const out = unary("relu", a);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("reluGrad", g, ctx.savedTensors[0]!);
  }
}

export class Sigmoid extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const out = unary("sigmoid", a);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("sigmoidGrad", g, ctx.savedTensors[0]!);
  }
}

export class Tanh extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const out = unary("tanh", a);
    ctx.saveForBackward(out);
    return out;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return binary("tanhGrad", g, ctx.savedTensors[0]!);
  }
}
