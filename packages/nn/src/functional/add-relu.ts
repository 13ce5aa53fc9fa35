import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

type AddReluContext = Context & { aShape: readonly number[]; bShape: readonly number[] };

/**
 * relu(a + b) with NumPy broadcasting, in one pass where a and b are float32 of one shape (the
 * residual block's `relu(x + f(x))`): the sum is never stored on its own. Backward passes the gradient
 * where the output is > 0, reduced to each input's shape, as relu's and add's backward would.
 */
export class AddRelu extends Function {
  static override forward(ctx: AddReluContext, a: NDArray, b: NDArray): NDArray {
    return AddRelu.forwardInto(ctx, undefined, a, b);
  }

  /** forward writing into `into` (packed, of the broadcast shape; a new array when undefined). */
  static forwardInto(ctx: AddReluContext, into: NDArray | undefined, a: NDArray, b: NDArray): NDArray {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    let out: NDArray;
    const [a32, b32] = [float32Elements(a), float32Elements(b)];
    if (a32 !== null && b32 !== null && kernels.sameShape(a.shape, b.shape)) {
      out = into ?? kernels.empty("float32", a.shape);
      const y = out.data as Float32Array;
      if (!kernels.reluKernels.resolve().kernel.addForward(a32, b32, y)) kernels.reluBits.addForward(a32, b32, y);
    } else {
      out = kernels.binary("add", a, b, "addRelu", undefined, into);
      kernels.unary("relu", out, out);
    }
    ctx.saveForBackward(out);
    return out;
  }

  static override backward(ctx: AddReluContext, g: NDArray): (NDArray | null)[] {
    const masked = kernels.binary("reluGrad", g, ctx.savedTensors[0]!);
    return [
      ctx.needsInputGrad[0] ? kernels.sumToShape(masked, ctx.aShape) : null,
      ctx.needsInputGrad[1] ? kernels.sumToShape(masked, ctx.bShape) : null,
    ];
  }
}

function float32Elements(a: NDArray): Float32Array | null {
  return a.data instanceof Float32Array && kernels.isPacked(a) ? a.data : null;
}

/** relu(a + b) in one operator (see AddRelu): what a residual block ends with. */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  checkTensor("addRelu", "a", a);
  checkTensor("addRelu", "b", b);
  return AddRelu.apply(a, b);
}
