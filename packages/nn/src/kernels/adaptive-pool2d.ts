import { kernels, type FloatArray } from "@pico/core";
import type { Flat } from "./flat.js";

/** Planes of [H, W] pooled to [outHeight, outWidth] by PyTorch's adaptive windows. */
export interface AdaptivePool2dGeometry {
  planes: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
}

/** Window i of `outSize` over `size`: [floor(i·size / outSize), ceil((i + 1)·size / outSize)), as PyTorch. */
function bounds(i: number, size: number, outSize: number): [number, number] {
  return [Math.floor((i * size) / outSize), Math.ceil(((i + 1) * size) / outSize)];
}

/** Mean over each adaptive window into out[planes, oH, oW]. */
export function adaptiveAvgPool2dForward(x: Flat, g: AdaptivePool2dGeometry, out: FloatArray): void {
  const { inHeight: H, inWidth: W, outHeight: oH, outWidth: oW } = g;
  if (globalMean(g) && x.data instanceof Float32Array && out instanceof Float32Array) {
    const size = H * W;
    globalMeanKernels.resolve().kernel.forward(x.data.subarray(x.offset, x.offset + g.planes * size), out, g.planes, size);
    return;
  }
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = x.offset + p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = bounds(oh, H, oH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = bounds(ow, W, oW);
        let sum = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) sum += x.data[base + h * W + w]!;
        out[o] = sum / ((h1 - h0) * (w1 - w0));
      }
    }
  }
}

/** Spreads each output gradient evenly over its window; `gx` must come zero-filled unless `globalMean(g)`. */
export function adaptiveAvgPool2dBackward(gy: Flat, g: AdaptivePool2dGeometry, gx: FloatArray): void {
  const { inHeight: H, inWidth: W, outHeight: oH, outWidth: oW } = g;
  if (globalMean(g) && gy.data instanceof Float32Array && gx instanceof Float32Array) {
    globalMeanKernels.resolve().kernel.backward(gy.data.subarray(gy.offset, gy.offset + g.planes), gx, g.planes, H * W);
    return;
  }
  let o = gy.offset;
  for (let p = 0; p < g.planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = bounds(oh, H, oH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = bounds(ow, W, oW);
        const share = gy.data[o]! / ((h1 - h0) * (w1 - w0));
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) gx[base + h * W + w] = gx[base + h * W + w]! + share;
      }
    }
  }
}

/** Whether every output is the mean of its whole plane (output size 1×1): then the backward writes every element of gx. */
export function globalMean(g: AdaptivePool2dGeometry): boolean {
  return g.outHeight === 1 && g.outWidth === 1;
}

// The global mean (a CIFAR or ResNet head) on float32, in flat loops over one array type each. The sums
// are float64, as the general loops' (and PyTorch's), but in eight interleaved partial sums rather than one
// chain in scan order: one chain waits on each add's latency (1.8 ms for [256, 128, 8, 8], eight 1.05 ms).
// The float64 sum of a plane of float32 values is exact, and so in any order, while they span less than
// 2^(29 − log2 size) in magnitude; else the orders differ by float64 rounding, below an ulp of the float32
// mean. No copy into WebAssembly: the pass is bound by reading x once, which a copy would do as well.
function globalMeanFloat32(x: Float32Array, offset: number, planes: number, size: number, out: Float32Array): void {
  for (let p = 0; p < planes; p++) {
    const end = offset + (p + 1) * size;
    let i = offset + p * size;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (; i + 8 <= end; i += 8) {
      s0 += x[i]!;
      s1 += x[i + 1]!;
      s2 += x[i + 2]!;
      s3 += x[i + 3]!;
      s4 += x[i + 4]!;
      s5 += x[i + 5]!;
      s6 += x[i + 6]!;
      s7 += x[i + 7]!;
    }
    for (; i < end; i++) s0 += x[i]!;
    out[p] = (s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7))) / size;
  }
}

function globalMeanBackwardFloat32(gy: Float32Array, offset: number, planes: number, size: number, gx: Float32Array): void {
  // A loop, not gx.fill(value, ...): a double passed to the built-in is boxed, one heap number per plane
  // (the CIFAR network's 8,192 planes: 128 KB of garbage a step).
  for (let p = 0; p < planes; p++) {
    const value = 0 + gy[offset + p]! / size;
    const end = (p + 1) * size;
    for (let i = p * size; i < end; i++) gx[i] = value;
  }
}

/** The global mean over planes of `size` packed float32 values and its backward (gx: every element written). */
export interface GlobalMeanKernel {
  forward(x: Float32Array, out: Float32Array, planes: number, size: number): void;
  backward(gy: Float32Array, gx: Float32Array, planes: number, size: number): void;
}

const globalMeanJs: GlobalMeanKernel = {
  forward: (x, out, planes, size) => globalMeanFloat32(x, 0, planes, size, out),
  backward: (gy, gx, planes, size) => globalMeanBackwardFloat32(gy, 0, planes, size, gx),
};

/**
 * The "globalMean" kernel family (adaptive average pooling to 1×1 on float32): the TypeScript loops, or
 * WebAssembly SIMD with the same float64 sums bit for bit, split across the threads by planes (each plane
 * one job's) from elementwise-wasm.ts's threshold on; it falls back to the loops where the module cannot run.
 */
export const globalMeanKernels = kernels
  .kernelFamily<GlobalMeanKernel>("globalMean")
  .register("js", globalMeanJs)
  .register(
    "wasm",
    {
      forward(x, out, planes, size) {
        if (!kernels.globalMeanWasm(x, out, planes, size)) globalMeanJs.forward(x, out, planes, size);
      },
      backward(gy, gx, planes, size) {
        if (!kernels.globalMeanBackwardWasm(gy, gx, planes, size)) globalMeanJs.backward(gy, gx, planes, size);
      },
    },
    { available: kernels.wasmAvailable, threads: kernels.elementwiseWasmThreads },
  );

/**
 * Max over each adaptive window into out; argmax (when given) gets the flat input index of the
 * window's first maximum in scan order, or its last NaN, as PyTorch.
 */
export function adaptiveMaxPool2dForward(x: Flat, g: AdaptivePool2dGeometry, out: FloatArray, argmax: Int32Array | null): void {
  const { inHeight: H, inWidth: W, outHeight: oH, outWidth: oW } = g;
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = bounds(oh, H, oH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = bounds(ow, W, oW);
        let bestIndex = base + h0 * W + w0;
        let best = x.data[x.offset + bestIndex]!;
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const i = base + h * W + w;
            const v = x.data[x.offset + i]!;
            if (v > best || v !== v) {
              best = v;
              bestIndex = i;
            }
          }
        }
        out[o] = best;
        if (argmax !== null) argmax[o] = bestIndex;
      }
    }
  }
}
