import { ArgumentError, Tensor } from "@pico/core";
import { conv2dReluMaxPool2d } from "../functional/conv2d-relu-max-pool2d.js";
import { Module } from "../module.js";
import { Conv2d } from "./conv2d.js";
import { MaxPool2d } from "./max-pool2d.js";
import { ReLU } from "./relu.js";

/** A module that maps a Tensor to a Tensor, the kind Sequential chains. */
export type TensorModule = Module<[Tensor], Tensor>;

/**
 * Chains modules: the output of each is the input of the next. Children are named "0", "1", ...,
 * so parameters are named `0.weight`, `3.bias`, ... as in PyTorch.
 *
 * Fusion: while `Sequential.fusion` is true (the default), a Conv2d immediately followed by a ReLU and
 * a MaxPool2d (exactly those classes, not subclasses) runs as one fused operator
 * (`F.conv2dReluMaxPool2d`) that never materialises the batch's convolution and ReLU outputs. Outputs
 * are bit for bit those of the three modules; gradients too with the TypeScript kernels, and equal to
 * float32 rounding with the WebAssembly ones (which sum in another order). Parameters, state dicts and
 * module names do not change. Inputs the modules would reject go through the modules, so errors are theirs.
 * Set `Sequential.fusion = false` to run every module on its own.
 *
 * @example new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10))
 */
export class Sequential extends Module {
  /** Whether forward fuses Conv2d → ReLU → MaxPool2d runs (see the class comment). */
  static fusion = true;

  constructor(...modules: TensorModule[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end. */
  append(module: TensorModule): this {
    if (!(module instanceof Module)) throw new ArgumentError(`Sequential: every element must be a Module, but element ${this.length} is ${typeof module}`);
    this.registerModule(String(this.length), module);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): TensorModule {
    const list = this.children() as TensorModule[];
    const i = index < 0 ? index + list.length : index;
    const m = list[i];
    if (!Number.isInteger(index) || m === undefined) {
      throw new ArgumentError(`Sequential.at: index must be an integer in [${-list.length}, ${list.length - 1}], but got ${index}`);
    }
    return m;
  }

  [Symbol.iterator](): Iterator<TensorModule> {
    return (this.children() as TensorModule[])[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    const list = this.children() as TensorModule[];
    let x = input;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (Sequential.fusion && m instanceof Conv2d) {
        const pool = fusablePool(m, list[i + 1], list[i + 2]);
        const padding = pool === null ? null : fusablePadding(m, pool, x);
        if (pool !== null && padding !== null) {
          const convOptions = { stride: m.stride, padding, dilation: m.dilation, groups: m.groups };
          x = conv2dReluMaxPool2d(x, m.weight, m.bias, convOptions, pool.kernelSize, { stride: pool.stride, padding: pool.padding });
          i += 2;
          continue;
        }
      }
      x = m.forward(x);
    }
    return x;
  }
}

/** The MaxPool2d of a Conv2d → ReLU → MaxPool2d run of exactly those classes, else null. */
function fusablePool(conv: Conv2d, relu: TensorModule | undefined, pool: TensorModule | undefined): MaxPool2d | null {
  if (conv.constructor !== Conv2d || relu?.constructor !== ReLU || pool?.constructor !== MaxPool2d) return null;
  return pool as MaxPool2d;
}

/**
 * The convolution's padding when the fused operator can take `input` exactly as the modules would,
 * else null: a [N, C, H, W] or [C, H, W] tensor with the convolution's channels, large enough for both
 * kernels, and a symmetric padding (an asymmetric "same" pads the input first).
 */
function fusablePadding(conv: Conv2d, pool: MaxPool2d, input: Tensor): [number, number] | null {
  if (!(input instanceof Tensor) || (input.ndim !== 3 && input.ndim !== 4) || input.shape[input.ndim - 3] !== conv.inChannels) return null;
  const kh = conv.dilation[0] * (conv.kernelSize[0] - 1) + 1;
  const kw = conv.dilation[1] * (conv.kernelSize[1] - 1) + 1;
  let padding: [number, number];
  if (conv.padding === "same") {
    if ((kh - 1) % 2 !== 0 || (kw - 1) % 2 !== 0) return null;
    padding = [(kh - 1) / 2, (kw - 1) / 2];
  } else {
    padding = conv.padding;
  }
  const h = input.shape[input.ndim - 2]! + 2 * padding[0];
  const w = input.shape[input.ndim - 1]! + 2 * padding[1];
  if (h < kh || w < kw) return null;
  const oh = Math.floor((h - kh) / conv.stride[0]) + 1;
  const ow = Math.floor((w - kw) / conv.stride[1]) + 1;
  const [ph, pw] = pool.padding;
  const [poolH, poolW] = pool.kernelSize;
  if (2 * ph > poolH || 2 * pw > poolW || oh + 2 * ph < poolH || ow + 2 * pw < poolW) return null;
  return padding;
}
