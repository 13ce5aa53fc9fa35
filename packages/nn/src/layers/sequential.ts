import { ArgumentError, Tensor, kernels, tracer } from "@pico/core";
import type { Context } from "@pico/core";
import { conv2dReluMaxPool2d } from "../functional/conv2d-relu-max-pool2d.js";
import { Module } from "../module.js";
import { AvgPool2d } from "./avg-pool2d.js";
import { Conv2d } from "./conv2d.js";
import { Dropout } from "./dropout.js";
import { Flatten } from "./flatten.js";
import { Identity } from "./identity.js";
import { LeakyReLU } from "./leaky-relu.js";
import { Linear } from "./linear.js";
import { LogSoftmax } from "./log-softmax.js";
import { MaxPool2d } from "./max-pool2d.js";
import { ReLU } from "./relu.js";
import { Sigmoid } from "./sigmoid.js";
import { Softmax } from "./softmax.js";
import { Tanh } from "./tanh.js";

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
 * Recycling (while `Sequential.recycling` is true, the default): intermediate outputs that nothing
 * outside the chain can reach go back to the buffer pool, so training and inference do not pile up
 * dead arrays between garbage collections. Under noGrad an intermediate is recycled as soon as the
 * next module has returned a result in another buffer; in grad mode it is declared private to the
 * call that created it (see `tracer.keepPrivate`), which a backward without retainGraph releases
 * after every call that reads it. Under noGrad a ReLU (exactly that class) on such an intermediate
 * works in place. Only buffers that every module producing or reading them is one
 * of the built-in layers whose forward keeps neither input nor output (exactly those classes, with
 * their own forward) qualify; the Sequential's input and output never do. Any other module (a custom
 * layer that caches its input, a subclass, a nested Sequential) leaves the buffers it saw to the
 * garbage collector.
 *
 * @example new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10))
 */
export class Sequential extends Module {
  /** Whether forward fuses Conv2d → ReLU → MaxPool2d runs (see the class comment). */
  static fusion = true;
  /** Whether forward recycles dead intermediates (see the class comment). */
  static recycling = true;

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
    const recycling = Sequential.recycling;
    const inputBuffer = bufferOf(input);
    let x = input;
    let chain: Chain = { private: false, owner: null };
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      let y: Tensor | null = null;
      let safe = false;
      if (Sequential.fusion && m instanceof Conv2d) {
        const pool = fusablePool(m, list[i + 1], list[i + 2]);
        const padding = pool === null ? null : fusablePadding(m, pool, x);
        if (pool !== null && padding !== null) {
          const convOptions = { stride: m.stride, padding, dilation: m.dilation, groups: m.groups };
          y = conv2dReluMaxPool2d(x, m.weight, m.bias, convOptions, pool.kernelSize, { stride: pool.stride, padding: pool.padding });
          safe = keepsNothing(m) && keepsNothing(list[i + 1]!) && keepsNothing(pool);
          i += 2;
        }
      }
      if (y === null && recycling && tracer.blind && chain.private && m.constructor === ReLU && keepsNothing(m) && kernels.isPacked(x.data)) {
        // Under noGrad a ReLU may overwrite an intermediate nothing else can reach.
        kernels.unary("relu", x.data, x.data);
        y = x;
        safe = true;
      }
      if (y === null) {
        y = m.forward(x);
        safe = keepsNothing(m);
      }
      if (recycling) chain = recycleDead(x, chain, y, safe, inputBuffer);
      x = y;
    }
    return x;
  }
}

/** The MaxPool2d of a Conv2d → ReLU → MaxPool2d run of exactly those classes (pool without dilation or ceilMode), else null. */
function fusablePool(conv: Conv2d, relu: TensorModule | undefined, pool: TensorModule | undefined): MaxPool2d | null {
  if (conv.constructor !== Conv2d || relu?.constructor !== ReLU || pool?.constructor !== MaxPool2d) return null;
  const p = pool as MaxPool2d;
  if (p.ceilMode || p.dilation[0] !== 1 || p.dilation[1] !== 1) return null;
  return p;
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

/** The built-in modules whose forward keeps no reference to its input or its output. */
const KEEP_NOTHING: ReadonlySet<Function> = new Set<Function>([
  Conv2d, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, Flatten, Dropout, Softmax, LogSoftmax, Identity,
]);

function keepsNothing(m: TensorModule): boolean {
  return KEEP_NOTHING.has(m.constructor) && !Object.prototype.hasOwnProperty.call(m, "forward");
}

function bufferOf(t: unknown): ArrayBufferLike | null {
  return t instanceof Tensor ? t.data.data.buffer : null;
}

/** What forward knows about the buffer of the current intermediate. */
interface Chain {
  /** Every module that produced or read the buffer keeps no reference to it, and it is not the input's. */
  private: boolean;
  /** Grad mode: the context of the call that created the buffer (released after every call reading it), else null. */
  owner: Context | null;
}

/** The context of the call that created y's buffer, when that call did (rather than passing on a view of an input). */
function creatorOf(y: Tensor): Context | null {
  const call = y.creator;
  if (call === null || call.ctx === null || call.inputs === null) return null;
  const buffer = bufferOf(y);
  for (const input of call.inputs) if (bufferOf(input) === buffer) return null;
  return call.ctx;
}

/**
 * After a module mapped `x` to `y`: recycles x's array when nothing else can reach it (at once
 * under noGrad, when its graph is released in grad mode), and returns what is known of y's buffer.
 */
function recycleDead(x: Tensor, chain: Chain, y: Tensor, safe: boolean, inputBuffer: ArrayBufferLike | null): Chain {
  const yBuffer = bufferOf(y);
  if (yBuffer === null) return { private: false, owner: null };
  if (yBuffer === bufferOf(x)) return { private: chain.private && safe, owner: chain.owner };
  if (chain.private && safe) {
    if (tracer.blind) tracer.recycle(x.data.data);
    else if (chain.owner !== null) tracer.keepPrivate(chain.owner, x.data.data);
  }
  return { private: safe && yBuffer !== inputBuffer, owner: tracer.blind ? null : creatorOf(y) };
}
