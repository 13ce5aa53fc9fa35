import { afterAll, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { recycle, takePooled } from "../../buffer-pool.js";
import { Generator } from "../../random.js";
import { bumpVersion } from "../../version.js";
import { conv2dBackwardWasm, conv2dForwardWasm } from "../conv/conv2d-wasm.js";
import type { Conv2dWasmGeometry } from "../conv/conv2d-wasm.js";
import { batchNormBackwardWasm, batchNormForwardWasm } from "./batch-norm-wasm.js";
import { installWasmConvThreads, stopWasmConvThreads } from "./conv-wasm-threads.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./elementwise-wasm-threads.js";
import { maxPool2x2BackwardWasm, maxPool2x2Wasm } from "./elementwise-wasm.js";
import { localInstance } from "./engine.js";
import { handOff, handOffCounts, memoryTouched, offerOutput, takeOutput } from "./handoff.js";

useNodeWorkers();

const gen = new Generator(17);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());

describe("handOff: a kernel's output left in the module for the next kernel", () => {
  afterAll(async () => {
    await stopWasmConvThreads();
    await stopWasmElementwiseThreads();
  });

  it("is taken only inside handOff, once, for the same array, offset, length and version, before the memory is touched", () => {
    const memory = localInstance()!.memory;
    const array = new Float32Array(8);
    const offer = (): void => offerOutput(memory, array, 0, 8, 640);
    offerOutput(memory, array, 0, 8, 640);
    expect(takeOutput(memory, array, 0, 8)).toBe(-1);
    expect(handOff(offer, () => [takeOutput(memory, array, 0, 8), takeOutput(memory, array, 0, 8)])).toEqual([640, -1]);
    expect(handOff(offer, () => takeOutput(memory, new Float32Array(8), 0, 8))).toBe(-1);
    expect(handOff(offer, () => takeOutput(memory, array, 0, 7))).toBe(-1);
    expect(handOff(offer, () => takeOutput(memory, array, 1, 8))).toBe(-1);
    expect(handOff(offer, () => takeOutput({ ...memory }, array, 0, 8))).toBe(-1);
    expect(handOff(offer, () => (memoryTouched(), takeOutput(memory, array, 0, 8)))).toBe(-1);
    expect(handOff(offer, () => (bumpVersion(array), takeOutput(memory, array, 0, 8)))).toBe(-1);
    // An offer not taken goes with its handOff.
    handOff(offer, () => undefined);
    expect(handOff(() => undefined, () => takeOutput(memory, array, 0, 8))).toBe(-1);
  });

  // A convolution's output normalised by the BatchNorm that reads it where the convolution left it gives
  // the very bits of one that copies it in, on the calling thread and on 2 threads.
  const g: Conv2dWasmGeometry = {
    batch: 6, inChannels: 16, inHeight: 12, inWidth: 12, outChannels: 16, groups: 1, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1, dilationHeight: 1, dilationWidth: 1, outHeight: 12, outWidth: 12,
  };
  const x = random(6 * 16 * 144);
  const w = random(16 * 16 * 9);
  const gamma = random(16);
  const beta = random(16);
  const convThenNorm = (handed: boolean, clobber = false): Float32Array[] => {
    const conv = new Float32Array(6 * 16 * 144);
    const y = new Float32Array(conv.length);
    const stats = new Float64Array(48);
    const affine = new Float64Array(48);
    const norm = (): boolean => batchNormForwardWasm(conv, y, 6, 16, 144, { train: true, relu: true, gamma, beta, eps: 1e-5, sync: null }, stats, affine);
    const convolve = (): boolean => conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, null, { data: conv, offset: 0 });
    // Clobbering the array without bumpVersion (which a direct write owes) shows where the BatchNorm read x.
    if (handed) expect(handOff(convolve, () => (clobber && conv.fill(0), norm()))).toBe(true);
    else expect(convolve() && norm()).toBe(true);
    return [conv, y, Float32Array.from(stats), Float32Array.from(affine)];
  };
  const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer));
  // The backward: the BatchNorm's input gradient, armed, read by the convolution's backward where it was left.
  const gy = random(6 * 16 * 144);
  const normThenConvBackward = (handed: boolean, clobber = false): Float32Array[] => {
    const [conv, , stats, affine] = convThenNorm(false) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const dx = new Float32Array(conv.length);
    const sums = new Float64Array(32);
    expect(batchNormBackwardWasm(conv, gy, dx, 6, 16, 144, true, true, Float64Array.from(stats), Float64Array.from(affine), sums, null, handed)).toBe(true);
    const grads = { input: new Float32Array(x.length), weight: new Float32Array(w.length), bias: new Float32Array(16) };
    const reference = Float32Array.from(dx);
    if (clobber) dx.fill(0);
    expect(conv2dBackwardWasm(g, { data: dx, offset: 0 }, { data: x, offset: 0 }, { data: w, offset: 0 }, {
      input: { data: grads.input, offset: 0 }, weight: { data: grads.weight, offset: 0 }, bias: { data: grads.bias, offset: 0 },
    })).toBe(true);
    return [reference, grads.input, grads.weight, grads.bias];
  };

  it("a BatchNorm reading a convolution's output in place, and a convolution's backward reading the BatchNorm's input gradient in place, give the bits of copying them in, on 1 and 2 threads", async () => {
    const alone = convThenNorm(false);
    const backward = normThenConvBackward(false);
    expect(normThenConvBackward(true).map(bits)).toEqual(backward.map(bits));
    expect(normThenConvBackward(true, true).map(bits)).toEqual(backward.map(bits));
    expect(convThenNorm(true).map(bits)).toEqual(alone.map(bits));
    expect(convThenNorm(true, true).slice(1).map(bits)).toEqual(alone.slice(1).map(bits));
    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    expect(convThenNorm(false).map(bits)).toEqual(alone.map(bits));
    expect(convThenNorm(true).map(bits)).toEqual(alone.map(bits));
    expect(convThenNorm(true, true).slice(1).map(bits)).toEqual(alone.slice(1).map(bits));
    expect(normThenConvBackward(false).map(bits)).toEqual(backward.map(bits));
    expect(normThenConvBackward(true).map(bits)).toEqual(backward.map(bits));
    expect(normThenConvBackward(true, true).map(bits)).toEqual(backward.map(bits));
  });

  // A convolution's input gradient read by the BatchNorm's backward that follows where the convolution's
  // backward left it when armed (handOffGradInput), else copied in ("unarmed": clobbered unarmed).
  const convBackwardThenNorm = (after: "read" | "clobber" | "written" | "recycled" | "copied" | "unarmed"): Float32Array[] => {
    const y = new Float32Array(x.length);
    const stats = new Float64Array(48);
    const affine = new Float64Array(48);
    expect(batchNormForwardWasm(x, y, 6, 16, 144, { train: true, relu: true, gamma, beta, eps: 1e-5, sync: null }, stats, affine)).toBe(true);
    const gx = new Float32Array(x.length);
    const grads = { input: { data: gx, offset: 0 }, weight: null, bias: null };
    const before = handOffCounts();
    expect(conv2dBackwardWasm(g, { data: gy, offset: 0 }, { data: x, offset: 0 }, { data: w, offset: 0 }, grads, { handOffGradInput: after !== "unarmed" })).toBe(true);
    expect(handOffCounts().offered - before.offered).toBe(after === "unarmed" ? 0 : 1);
    // A write without bumpVersion (which a direct write owes) shows where the BatchNorm read g; the others void the offer.
    if (after === "clobber" || after === "unarmed") gx.fill(0);
    if (after === "written") (gx.fill(0.5), bumpVersion(gx));
    if (after === "recycled") (recycle(gx), takePooled("float32", gx.length, false)!.fill(0.5));
    if (after === "copied") memoryTouched();
    const dx = new Float32Array(x.length);
    const sums = new Float64Array(32);
    expect(batchNormBackwardWasm(x, gx, dx, 6, 16, 144, true, true, stats, affine, sums, null)).toBe(true);
    expect(handOffCounts().taken - before.taken).toBe(after === "read" || after === "clobber" ? 1 : 0);
    return [dx, Float32Array.from(sums)];
  };

  it("a BatchNorm's backward reads a convolution's input gradient where the convolution's backward left it only when armed, with the bits of copying it in, unless the array was written since (bumpVersion) or went back to the buffer pool, on 1 and 2 threads", async () => {
    await stopWasmConvThreads();
    await stopWasmElementwiseThreads();
    const filled = (value: number): Float32Array[] => {
      // The gradient `value` everywhere, copied in: what a read after a write must give.
      const y = new Float32Array(x.length);
      const [stats, affine, sums, dx] = [new Float64Array(48), new Float64Array(48), new Float64Array(32), new Float32Array(x.length)];
      expect(batchNormForwardWasm(x, y, 6, 16, 144, { train: true, relu: true, gamma, beta, eps: 1e-5, sync: null }, stats, affine)).toBe(true);
      expect(batchNormBackwardWasm(x, new Float32Array(x.length).fill(value), dx, 6, 16, 144, true, true, stats, affine, sums, null)).toBe(true);
      return [dx, Float32Array.from(sums)];
    };
    const copied = convBackwardThenNorm("copied");
    const half = filled(0.5);
    const zeros = filled(0);
    expect(bits(half[0]!)).not.toEqual(bits(copied[0]!));
    expect(bits(zeros[1]!)).not.toEqual(bits(copied[1]!));
    for (const threads of [1, 2]) {
      if (threads === 2) {
        expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
        expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
      }
      expect(convBackwardThenNorm("copied").map(bits)).toEqual(copied.map(bits));
      expect(convBackwardThenNorm("read").map(bits)).toEqual(copied.map(bits));
      expect(convBackwardThenNorm("clobber").map(bits)).toEqual(copied.map(bits));
      expect(convBackwardThenNorm("written").map(bits)).toEqual(half.map(bits));
      expect(convBackwardThenNorm("recycled").map(bits)).toEqual(half.map(bits));
      // Not armed, nothing is offered: the BatchNorm reads the array, whatever was written into it.
      expect(convBackwardThenNorm("unarmed").map(bits)).toEqual(zeros.map(bits));
    }
  });

  it("on the threads, the BatchNorm's backward reads max pooling's input gradient where it was left when armed, with the bits of copying it in; max pooling reads the BatchNorm's output from its array", async () => {
    const [n, c, H, W] = [6, 16, 24, 24];
    const size = n * c * H * W;
    const [oH, oW] = [H >> 1, W >> 1];
    const xs = random(size);
    const gp = random(size / 4);
    // BatchNorm + ReLU, then max pooling (its output, arg-max, then its backward into the BatchNorm's backward).
    const chain = (clobber: boolean, armed = true): Float32Array[] => {
      const y = new Float32Array(size);
      const [stats, affine, sums] = [new Float64Array(48), new Float64Array(48), new Float64Array(32)];
      expect(batchNormForwardWasm(xs, y, n, c, H * W, { train: true, relu: true, gamma, beta, eps: 1e-5, sync: null }, stats, affine)).toBe(true);
      const pooled = new Float32Array(size / 4);
      const argmax = new Int32Array(size / 4);
      expect(maxPool2x2Wasm(y, pooled, argmax, n * c, H, W, oH, oW)).toBe(true);
      const gx = new Float32Array(size);
      expect(maxPool2x2BackwardWasm(gp, argmax, gx, n * c, H, W, oH, oW, armed)).toBe(true);
      const gxKept = Float32Array.from(gx);
      if (clobber) gx.fill(0);
      const dx = new Float32Array(size);
      expect(batchNormBackwardWasm(xs, gx, dx, n, c, H * W, true, true, stats, affine, sums, null)).toBe(true);
      return [y, pooled, new Float32Array(argmax.buffer), gxKept, dx, Float32Array.from(sums)];
    };
    // The BatchNorm's output is the caller's (an in-place ReLU writes into it): max pooling reads what the array holds.
    const normWrittenThenPool = (): Float32Array => {
      const y = new Float32Array(size);
      expect(batchNormForwardWasm(xs, y, n, c, H * W, { train: true, relu: false, gamma, beta, eps: 1e-5, sync: null }, new Float64Array(48), new Float64Array(48))).toBe(true);
      y.fill(-1);
      const pooled = new Float32Array(size / 4);
      expect(maxPool2x2Wasm(y, pooled, null, n * c, H, W, oH, oW)).toBe(true);
      return pooled;
    };
    await stopWasmConvThreads();
    await stopWasmElementwiseThreads();
    const alone = chain(false);
    expect(normWrittenThenPool().every((v) => v === -1)).toBe(true);
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    expect(chain(false).map(bits)).toEqual(alone.map(bits));
    // Written without bumpVersion (which a direct write owes): the kernel reads the module's copy.
    expect(chain(true).map(bits)).toEqual(alone.map(bits));
    // Not armed: nothing offered, the BatchNorm reads the clobbered array (a zero gradient: no sums).
    const before = handOffCounts();
    const unarmed = chain(true, false);
    expect(handOffCounts()).toEqual(before);
    expect(Array.from(unarmed[5]!).every((v) => v === 0)).toBe(true);
    expect(normWrittenThenPool().every((v) => v === -1)).toBe(true);
  });
});
