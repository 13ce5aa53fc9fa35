import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocateUninitialized } from "../../dtype.js";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { Generator } from "../../random.js";
import { installWasmConvThreads, stopWasmConvThreads } from "../wasm/conv-wasm-threads.js";
import { installWasmGemmThreads, stopWasmGemmThreads } from "../wasm/gemm-wasm-threads.js";
import { conv2dBackwardWasm, conv2dForwardWasm, conv2dWasmResident } from "./conv2d-wasm.js";
import type { Conv2dGeometry } from "./geometry.js";

// conv2dForwardWasm's inputCopy: x (outside the threads' memory) copied into a resident array of the caller's
// instead of a region of the call's own, for a backward to read in place. The same bits as copying x in at
// each call, and the copy holds x.

useNodeWorkers();

const gen = new Generator(41);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const bits = (a: Float32Array): number[] => Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));

/** A 5×5 convolution of `batch` images, `c` → `o` channels of `size`² (no padding), as the reference network's. */
function geometry(batch: number, c: number, o: number, size: number): Conv2dGeometry {
  const out = size - 4;
  return {
    batch, inChannels: c, inHeight: size, inWidth: size, outChannels: o, groups: 1, kernelHeight: 5, kernelWidth: 5,
    strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0, dilationHeight: 1, dilationWidth: 1, outHeight: out, outWidth: out,
  };
}

describe("conv2dForwardWasm's inputCopy on the threads", () => {
  beforeAll(async () => {
    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    expect(await installWasmGemmThreads({ threads: 2 })).toBe(true);
  });
  afterAll(async () => {
    await stopWasmGemmThreads();
    await stopWasmConvThreads();
  });

  for (const [name, g] of [
    ["conv1 of the reference network, batch 64", geometry(64, 1, 8, 28)],
    ["conv2 of the reference network, batch 24", geometry(24, 8, 16, 12)],
  ] as const) {
    it(`${name}: + ReLU + 2x2 max pooling, forward and backward from the copy give the bits of x copied in at each call`, () => {
      const inSize = g.batch * g.inChannels * g.inHeight * g.inWidth;
      const pooled = g.batch * g.outChannels * (g.outHeight >> 1) * (g.outWidth >> 1);
      const taps = g.inChannels * 25;
      const [x, w, bias, gy] = [random(inSize), random(g.outChannels * taps), random(g.outChannels), random(pooled)];
      expect(conv2dWasmResident(x)).toBe(false);
      /** Forward (into `copy` when given), then backward reading x from `xFor` (x itself, or the copy). */
      const run = (copy: Float32Array | null): Float32Array[] => {
        const [y, argmaxFloats] = [new Float32Array(pooled), new Float32Array(pooled)];
        const argmax = new Int32Array(argmaxFloats.buffer);
        const options = { reluMaxPool2x2: true, argmax, inputCopy: copy };
        expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, { data: bias, offset: 0 }, { data: y, offset: 0 }, options)).toBe(true);
        const [gw, gb] = [new Float32Array(w.length), new Float32Array(g.outChannels)];
        const grads = { input: null, weight: { data: gw, offset: 0 }, bias: { data: gb, offset: 0 } };
        expect(conv2dBackwardWasm(g, { data: gy, offset: 0 }, { data: copy ?? x, offset: 0 }, { data: w, offset: 0 }, grads, { argmax })).toBe(true);
        return [y, argmaxFloats, gw, gb];
      };
      const plain = run(null);
      const copy = allocateUninitialized("float32", inSize) as Float32Array;
      copy.fill(Number.NaN);
      expect(conv2dWasmResident(copy)).toBe(true);
      const fast = run(copy);
      expect(bits(copy)).toEqual(bits(x));
      fast.forEach((r, i) => expect(bits(r)).toEqual(bits(plain[i]!)));
    });
  }

  it("ignores an inputCopy outside the threads' memory or shorter than x: the bits of no copy, the array untouched", () => {
    const g = geometry(64, 1, 8, 28);
    const inSize = 64 * 784;
    const pooled = 64 * 8 * 12 * 12;
    const [x, w, bias] = [random(inSize), random(8 * 25), random(8)];
    const forward = (copy: Float32Array | null): Float32Array => {
      const y = new Float32Array(pooled);
      expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, { data: bias, offset: 0 }, { data: y, offset: 0 }, { reluMaxPool2x2: true, inputCopy: copy })).toBe(true);
      return y;
    };
    const plain = forward(null);
    const outside = new Float32Array(inSize).fill(7);
    const short = (allocateUninitialized("float32", inSize) as Float32Array).subarray(0, inSize - 784).fill(7);
    expect(conv2dWasmResident(short)).toBe(true);
    for (const copy of [outside, short]) {
      expect(bits(forward(copy))).toEqual(bits(plain));
      expect(copy.every((v) => v === 7)).toBe(true);
    }
  });
});
