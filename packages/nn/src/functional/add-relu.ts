import { ArgumentError, Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkOptions, checkTensor } from "./check.js";

type AddReluContext = Context & { aShape: readonly number[]; bShape: readonly number[] };

export interface AddReluOptions {
  /**
   * Write the result into a's buffer and return a tensor over it, as `a.add_(b).relu_()` (torchvision's
   * BasicBlock: `out += identity; out = relu(out)` with `ReLU(inplace=True)`): no new buffer, whose first
   * touch costs more than the add itself at a residual block's size. a must be packed, of the broadcast
   * shape and dtype, and not a leaf that requires grad; its version is bumped, so a backward that saved
   * a refuses to run. A compiled graph writes into its planned buffer instead. Default false.
   */
  inplace?: boolean;
}

export const ADD_RELU_OPTIONS = ["inplace"] as const;

/**
 * relu(a + b) with NumPy broadcasting, in one pass where a and b are float32 of one shape (the
 * residual block's `relu(x + f(x))`): the sum is never stored on its own. Backward passes the gradient
 * where the output is > 0, reduced to each input's shape, as relu's and add's backward would. With
 * `inplace` (see AddReluOptions) the output is a's buffer.
 */
export class AddRelu extends Function {
  static override forward(ctx: AddReluContext, a: NDArray, b: NDArray, inplace = false): NDArray {
    return AddRelu.forwardInto(ctx, inplace ? a : undefined, a, b);
  }

  /** forward writing into `into` (packed, of the broadcast shape; may be a itself; a new array when undefined). */
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
      // Each element of `into` is written after a and b's elements at its index are read, also where into is a.
      out = kernels.binary("add", a, b, "addRelu", undefined, into);
      kernels.unary("relu", out, out);
    }
    ctx.saveForBackward(out);
    return out;
  }

  static override backward(ctx: AddReluContext, g: NDArray): (NDArray | null)[] {
    const masked = kernels.binary("reluGrad", g, ctx.savedTensors[0]!);
    const grads = [
      ctx.needsInputGrad[0] ? kernels.sumToShape(masked, ctx.aShape) : null,
      ctx.needsInputGrad[1] ? kernels.sumToShape(masked, ctx.bShape) : null,
    ];
    // None for `inplace` when apply received it.
    return ctx.needsInputGrad.length > 2 ? [...grads, null] : grads;
  }
}

function float32Elements(a: NDArray): Float32Array | null {
  return a.data instanceof Float32Array && kernels.isPacked(a) ? a.data : null;
}

/** relu(a + b) in one operator (see AddRelu): what a residual block ends with; `inplace` writes it into a. */
export function addRelu(a: Tensor, b: Tensor, options: AddReluOptions = {}): Tensor {
  checkTensor("addRelu", "a", a);
  checkTensor("addRelu", "b", b);
  checkOptions("addRelu", options, ADD_RELU_OPTIONS);
  const inplace = options.inplace ?? false;
  if (typeof inplace !== "boolean") throw new ArgumentError(`addRelu: inplace must be a boolean, but got ${typeof inplace} ${String(inplace)}`);
  if (!inplace) return AddRelu.apply(a, b);
  checkInPlace(a, b);
  // The write happens inside apply: a's readers saved before it see a newer version, AddRelu's own saved output this one.
  a.bumpVersion();
  return AddRelu.apply(a, b, true);
}

/** addRelu's rules for writing into a, as torch's `a.add_(b)` checks them. */
function checkInPlace(a: Tensor, b: Tensor): void {
  const shape = kernels.broadcastShapes("addRelu", a.shape, b.shape);
  const dtype = kernels.promote(a.dtype, b.dtype);
  if (!kernels.sameShape(shape, a.shape) || dtype !== a.dtype) {
    throw new ArgumentError(
      `addRelu: inplace writes the result into a, so a must have the broadcast shape [${shape.join(", ")}] and dtype ${dtype}, ` +
        `but got a ${a.dtype} a of shape [${a.shape.join(", ")}] (b ${b.dtype} [${b.shape.join(", ")}])`,
    );
  }
  if (!kernels.isPacked(a.data)) {
    throw new ArgumentError(`addRelu: inplace writes the result into a, so a must be packed (contiguous, covering its whole buffer), but got a view of shape [${a.shape.join(", ")}]`);
  }
  if (a.isLeaf && a.requiresGrad) {
    throw new ArgumentError("addRelu: inplace cannot write into a leaf tensor that requires grad (as torch refuses: its gradient would be of the overwritten values); pass inplace: false or a.detach()");
  }
}
