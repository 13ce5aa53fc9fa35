import { ArgumentError, Context, Function, ShapeError, Tensor, formatShape, kernels, tracer, type NDArray } from "@pico/core";
import { argmaxBuffer } from "../kernels/argmax-buffer.js";
import { conv2dReluMaxPool2dBackward, conv2dReluMaxPool2dForward } from "../kernels/conv2d-relu-max-pool2d.js";
import { flatData } from "../kernels/flat.js";
import { pool2dGeometry, type Pool2dGeometry } from "../kernels/pool-geometry.js";
import { checkOptions, checkSameDtype } from "./check.js";
import { conv2dGeometry, type Conv2dGeometry, type Conv2dOptions } from "./conv2d.js";
import type { Pool2dOptions } from "./max-pool2d.js";
import type { IntPair } from "./pair.js";

type FusedContext = Context & {
  geometry: Conv2dGeometry; pool: Pool2dGeometry; argmax: Int32Array; wasm: boolean; prepared?: kernels.PreparedWeights; handOffGradInput: boolean;
  /** x as the WebAssembly forward copied it into the threads' memory, for backward to read in place; null where x lives there itself or no copy was made. */
  inputCopy: Float32Array | null;
};

/** The pooling the WebAssembly convolution fuses: 2×2 windows, stride 2, no padding, over the whole convolution output. */
function isPool2x2(g: Conv2dGeometry, pool: Pool2dGeometry): boolean {
  return pool.kernelHeight === 2 && pool.kernelWidth === 2 && pool.strideHeight === 2 && pool.strideWidth === 2 &&
    pool.padHeight === 0 && pool.padWidth === 0 &&
    pool.inHeight === g.outHeight && pool.inWidth === g.outWidth && pool.outHeight === g.outHeight >> 1 && pool.outWidth === g.outWidth >> 1;
}

/** A float32 flat operand as the kernel's slice (the same object: the kernels only read it), else null. */
const float32 = (a: { data: kernels.Float32Slice["data"] | Float64Array; offset: number } | null): kernels.Float32Slice | null =>
  a !== null && a.data instanceof Float32Array ? (a as kernels.Float32Slice) : null;

/** The gradients of x, weight and bias, then null for the options (and for handOffGradInput when the call passed it). */
function withOptions(ctx: FusedContext, gx: NDArray | null, gw: NDArray | null, gb: NDArray | null): (NDArray | null)[] {
  // Allocated at its length and filled, not pushed onto (which grows a spare backing store).
  const grads = new Array<NDArray | null>(ctx.needsInputGrad.length);
  grads[0] = gx;
  grads[1] = gw;
  grads[2] = gb;
  for (let i = 3; i < grads.length; i++) grads[i] = null;
  return grads;
}

/**
 * Room in the threads' memory for a copy of x's `length` floats (a packed float32 array from the buffer pool,
 * kept by `ctx` until backward releases it: tracer.keepPrivate), or null where x lives there itself or the
 * pool's array does not (no threads, or their memory full).
 */
function residentCopyRoom(ctx: FusedContext, x: kernels.Float32Slice, length: number): Float32Array | null {
  if (kernels.conv2dWasmResident(x.data)) return null;
  const room = kernels.allocateUninitialized("float32", length) as Float32Array;
  if (!kernels.conv2dWasmResident(room)) {
    kernels.recycle(room);
    return null;
  }
  tracer.keepPrivate(ctx, room);
  return room;
}

/** A packed float32 array as the kernel's slice, else null. */
function packedFloat32(a: NDArray | null): kernels.Float32Slice | null {
  return a !== null && a.data instanceof Float32Array ? { data: a.data, offset: 0 } : null;
}

function isFloat64(a: NDArray | null): boolean {
  return a !== null && kernels.dtypeOf(a) === "float64";
}

/**
 * maxPool2d(relu(conv2d(x, weight, bias))) in one pass over the batch, one image at a time, without
 * the batch's convolution or ReLU output: same values and gradients as the three operators. Where the
 * conv2d kernel family resolves to "wasm", the input is float32 and the pool 2×2 with stride 2, the
 * WebAssembly module fuses all three (recorded on ctx for backward); otherwise the TypeScript kernel.
 */
export class Conv2dReluMaxPool2dFunction extends Function {
  static override forward(
    ctx: FusedContext,
    x: NDArray,
    weight: NDArray,
    bias: NDArray | null,
    convOptions: Conv2dOptions = {},
    poolKernel: IntPair = 2,
    poolOptions: Pick<Pool2dOptions, "stride" | "padding"> = {},
    handOffGradInput = false,
  ): NDArray {
    return Conv2dReluMaxPool2dFunction.forwardInto(ctx, undefined, x, weight, bias, convOptions, poolKernel, poolOptions, handOffGradInput);
  }

  /**
   * forward writing into `into` (packed, of the output's shape and dtype; a new array when undefined).
   * `handOffGradInput` (default false): the caller knows x is read by this Function alone and made by one
   * Function, so backward may leave x's gradient in the kernel module for that Function's backward (nn's fusion patterns).
   */
  static forwardInto(
    ctx: FusedContext,
    into: NDArray | undefined,
    x: NDArray,
    weight: NDArray,
    bias: NDArray | null,
    convOptions: Conv2dOptions = {},
    poolKernel: IntPair = 2,
    poolOptions: Pick<Pool2dOptions, "stride" | "padding"> = {},
    handOffGradInput = false,
  ): NDArray {
    checkOptions("conv2dReluMaxPool2d", poolOptions, ["stride", "padding"]);
    const g = conv2dGeometry(x.shape, weight.shape, bias === null ? null : bias.shape, convOptions);
    const pool = pool2dGeometry("conv2dReluMaxPool2d", [g.batch, g.outChannels, g.outHeight, g.outWidth], poolKernel, poolOptions);
    const dtype = isFloat64(x) || isFloat64(weight) || isFloat64(bias) ? "float64" : "float32";
    // Both kernels write every output element: no need to zero-fill a recycled buffer first.
    const out = into ?? kernels.empty(dtype, [g.batch, g.outChannels, pool.outHeight, pool.outWidth]);
    const needsGrad = ctx.needsInputGrad[0] === true || ctx.needsInputGrad[1] === true || ctx.needsInputGrad[2] === true;
    const argmax = needsGrad ? argmaxBuffer(ctx, out.size) : null;
    const xf = flatData(x, dtype);
    const wf = flatData(weight, dtype);
    const bf = bias === null ? null : flatData(bias, dtype);
    // WebAssembly where it runs (float32, 2×2 pools of stride 2): the convolution output never leaves the
    // module. Otherwise TypeScript, whose weight gradient unfolds each image again rather than keeping the
    // batch's columns: measured on the reference network (batch 64), a second im2col costs no more than
    // allocating and faulting in fresh columns every step, and they would be the largest array a step holds.
    const x32 = float32(xf);
    const w32 = float32(wf);
    const b32 = float32(bf);
    const wasmKernel = kernels.conv2dKernels.resolve().backend === "wasm" && isPool2x2(g, pool) && x32 !== null && w32 !== null && (bf === null || b32 !== null) &&
      out.data instanceof Float32Array;
    // Where backward reads x (the weight's gradient) and x lives outside the threads' memory (a batch the
    // caller made), the forward copies it into a resident array it keeps until backward, which then reads it
    // in place instead of copying it in a second time (on the calling thread, while the workers wait for
    // their first images).
    const inputCopy = wasmKernel && ctx.needsInputGrad[1] === true ? residentCopyRoom(ctx, x32!, g.batch * g.inChannels * g.inHeight * g.inWidth) : null;
    const wasm = wasmKernel &&
      kernels.conv2dForwardWasm(g, x32!, w32!, b32, { data: out.data as Float32Array, offset: 0 }, {
        reluMaxPool2x2: true,
        argmax,
        prepared: ctx.reused ? (ctx.prepared ??= new kernels.PreparedWeights()) : undefined,
        inputCopy,
      });
    if (!wasm) conv2dReluMaxPool2dForward(xf, wf, bf, g, pool, out.data, argmax, null);
    if (argmax !== null) {
      ctx.inputCopy = wasm ? inputCopy : null;
      ctx.wasm = wasm;
      ctx.geometry = g;
      ctx.pool = pool;
      ctx.argmax = argmax;
      ctx.handOffGradInput = handOffGradInput === true;
      ctx.saveForBackward(x, weight);
    }
    return out;
  }

  static override backward(ctx: FusedContext, gy: NDArray): (NDArray | null)[] {
    const x = ctx.savedTensors[0]!;
    const weight = ctx.savedTensors[1]!;
    const g = ctx.geometry;
    const dtype = kernels.dtypeOf(gy);
    // The WebAssembly kernel writes every element of the input gradient: no zero-fill of a recycled buffer first.
    const gx = ctx.needsInputGrad[0] ? (ctx.wasm ? kernels.empty(dtype, x.shape) : kernels.create(dtype, x.shape)) : null;
    const gw = ctx.needsInputGrad[1] ? kernels.create(dtype, weight.shape) : null;
    const gb = ctx.needsInputGrad[2] ? kernels.create(dtype, [g.outChannels]) : null;
    const input = gw !== null ? flatData(x, dtype) : null;
    const gyf = flatData(gy, dtype);
    const wf = flatData(weight, dtype);
    const pool = ctx.pool;
    const gy32 = float32(gyf);
    const w32 = float32(wf);
    const x32 = input === null ? null : ctx.inputCopy !== null ? { data: ctx.inputCopy, offset: 0 } : float32(input);
    if (ctx.wasm && gy32 !== null && w32 !== null && (gw === null || x32 !== null) &&
      kernels.conv2dBackwardWasm(g, gy32, x32, w32, { input: packedFloat32(gx), weight: packedFloat32(gw), bias: packedFloat32(gb) }, { argmax: ctx.argmax, handOffGradInput: ctx.handOffGradInput })) {
      return withOptions(ctx, gx, gw, gb);
    }
    if (ctx.wasm) {
      gx?.data.fill(0);
      // The module marks a window with nothing > 0 by −1, the TypeScript kernel by a spare slot past the image.
      const spare = g.outChannels * g.outHeight * g.outWidth;
      const argmax = ctx.argmax;
      for (let o = 0; o < argmax.length; o++) if (argmax[o]! < 0) argmax[o] = spare;
    }
    conv2dReluMaxPool2dBackward(
      gyf,
      ctx.argmax,
      wf,
      input,
      g,
      pool,
      null,
      gx === null ? null : gx.data,
      gw === null ? null : gw.data,
      gb === null ? null : gb.data,
    );
    return withOptions(ctx, gx, gw, gb);
  }
}

/**
 * maxPool2d(relu(conv2d(input, weight, bias, convOptions)), poolKernel, poolOptions), fused: the
 * convolution of each image is pooled while it is still in cache. Shapes and options as conv2d and
 * maxPool2d; input [N, C, H, W] (or unbatched [C, H, W]).
 */
export function conv2dReluMaxPool2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  convOptions: Conv2dOptions = {},
  poolKernel: IntPair = 2,
  poolOptions: Pick<Pool2dOptions, "stride" | "padding"> = {},
): Tensor {
  const op = "conv2dReluMaxPool2d";
  if (!(input instanceof Tensor)) throw new ArgumentError(`${op}: input must be a Tensor, but got ${typeof input}`);
  if (!(weight instanceof Tensor)) throw new ArgumentError(`${op}: weight must be a Tensor, but got ${typeof weight}`);
  if (bias !== undefined && bias !== null && !(bias instanceof Tensor)) throw new ArgumentError(`${op}: bias must be a Tensor or null, but got ${typeof bias}`);
  checkSameDtype(op, input, "weight", weight);
  checkSameDtype(op, input, "bias", bias);
  if (input.ndim === 3) {
    const groups = convOptions.groups ?? 1;
    const expected = weight.ndim === 4 && Number.isInteger(groups) && groups >= 1 ? weight.shape[1]! * groups : input.shape[0];
    if (input.shape[0] !== expected) {
      throw new ShapeError(
        `${op}: expected unbatched input with ${expected} channels [${expected}, H, W] (weight ${formatShape(weight.shape)}, groups ${groups}), ` +
          `but got shape ${formatShape(input.shape)}`,
      );
    }
    return Conv2dReluMaxPool2dFunction.apply(input.unsqueeze(0), weight, bias ?? null, convOptions, poolKernel, poolOptions).squeeze(0);
  }
  return Conv2dReluMaxPool2dFunction.apply(input, weight, bias ?? null, convOptions, poolKernel, poolOptions);
}
