import { afterAll, describe, expect, it } from "vitest";
import { Generator } from "../../random.js";
import { conv2dBackwardReference } from "../conv/conv2d-reference.js";
import { conv2dBackwardWasm, conv2dForwardWasm } from "../conv/conv2d-wasm.js";
import type { Conv2dWasmGeometry, Float32Slice } from "../conv/conv2d-wasm.js";
import { installWasmConvThreads, stopWasmConvThreads, wasmConvThreadsActive } from "./conv-wasm-threads.js";
import { useNodeWorkers } from "../../node-worker-launcher.js";

useNodeWorkers();

const gen = new Generator(5);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const flat = (data: Float32Array): Float32Slice => ({ data, offset: 0 });

function geometry(n: number, c: number, h: number, w: number, o: number, groups: number, k: number, s: number, p: number): Conv2dWasmGeometry {
  const out = (size: number): number => Math.floor((size + 2 * p - (k - 1) - 1) / s) + 1;
  return {
    batch: n, inChannels: c, inHeight: h, inWidth: w, outChannels: o, groups, kernelHeight: k, kernelWidth: k,
    strideHeight: s, strideWidth: s, padHeight: p, padWidth: p, dilationHeight: 1, dilationWidth: 1, outHeight: out(h), outWidth: out(w),
  };
}

interface Results {
  out: Float32Array;
  pooled: Float32Array;
  argmax: Int32Array;
  gx: Float32Array;
  gw: Float32Array;
  gb: Float32Array;
  pooledGx: Float32Array;
  /** Pooled without arg-max (inference). */
  pooledInference: Float32Array;
  /** The weight gradient asked alone: by Winograd for F(4×4, 3×3) geometries. */
  gwAlone: Float32Array;
}

/** Every entry point on one geometry, `chunk` images per GEMM. */
function runAll(g: Conv2dWasmGeometry, x: Float32Array, w: Float32Array, b: Float32Array, gy: Float32Array, gyPooled: Float32Array, chunk: number): Results {
  const outSize = g.batch * g.outChannels * g.outHeight * g.outWidth;
  const pooledSize = g.batch * g.outChannels * (g.outHeight >> 1) * (g.outWidth >> 1);
  const r: Results = {
    out: new Float32Array(outSize), pooled: new Float32Array(pooledSize), argmax: new Int32Array(pooledSize),
    gx: new Float32Array(x.length), gw: new Float32Array(w.length), gb: new Float32Array(b.length), pooledGx: new Float32Array(x.length),
    gwAlone: new Float32Array(w.length), pooledInference: new Float32Array(pooledSize),
  };
  expect(conv2dForwardWasm(g, flat(x), flat(w), flat(b), flat(r.out), { chunk })).toBe(true);
  expect(conv2dForwardWasm(g, flat(x), flat(w), flat(b), flat(r.pooled), { chunk, reluMaxPool2x2: true, argmax: r.argmax })).toBe(true);
  expect(conv2dForwardWasm(g, flat(x), flat(w), flat(b), flat(r.pooledInference), { chunk, reluMaxPool2x2: true })).toBe(true);
  expect(conv2dBackwardWasm(g, flat(gy), flat(x), flat(w), { input: flat(r.gx), weight: flat(r.gw), bias: flat(r.gb) }, { chunk })).toBe(true);
  expect(conv2dBackwardWasm(g, flat(gyPooled), null, flat(w), { input: flat(r.pooledGx), weight: null, bias: null }, { chunk, argmax: r.argmax })).toBe(true);
  expect(conv2dBackwardWasm(g, flat(gy), flat(x), flat(w), { input: null, weight: flat(r.gwAlone), bias: null }, { chunk })).toBe(true);
  return r;
}

/** Whether a and b hold the same bits (vitest's toEqual walks large typed arrays element by element, slowly). */
function sameBits(a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean {
  const [p, q] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  return p.length === q.length && p.every((v, i) => v === q[i]);
}

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > 1e-4 * (1 + Math.abs(expected[i]!))) throw new Error(`${label}[${i}]: threaded ${actual[i]} vs one thread ${expected[i]}`);
  }
}

describe("the WebAssembly convolution on 3 threads", () => {
  afterAll(async () => {
    await stopWasmConvThreads();
  });

  const cases: Array<[Conv2dWasmGeometry, number]> = [
    [geometry(64, 1, 28, 28, 8, 1, 5, 1, 0), 1],
    [geometry(7, 8, 12, 12, 16, 1, 5, 1, 0), 2],
    [geometry(5, 4, 9, 11, 6, 2, 3, 2, 1), 1],
    [geometry(2, 3, 8, 8, 3, 1, 3, 1, 1), 4],
    // F(4×4, 3×3) Winograd: `chunk` images per batch of tiles.
    [geometry(9, 16, 10, 9, 20, 1, 3, 1, 1), 1],
    [geometry(7, 24, 8, 8, 16, 1, 3, 1, 0), 2],
  ];

  it("gives what one thread gives: outputs and arg-max exactly, the summed gradients to rounding and the same bits on every run", async () => {
    const inputs = cases.map(([g]) => {
      const outSize = g.batch * g.outChannels * g.outHeight * g.outWidth;
      return {
        x: random(g.batch * g.inChannels * g.inHeight * g.inWidth), w: random(g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth),
        b: random(g.outChannels), gy: random(outSize), gyPooled: random(g.batch * g.outChannels * (g.outHeight >> 1) * (g.outWidth >> 1)),
      };
    });
    const single = cases.map(([g, chunk], i) => runAll(g, inputs[i]!.x, inputs[i]!.w, inputs[i]!.b, inputs[i]!.gy, inputs[i]!.gyPooled, chunk));
    // 64×64 weights: their F(4×4, 3×3) transforms (forward, and flipped for the input gradient) split across the threads.
    const own = new Generator(23);
    // 40 images in batches of 16 (4 tiles each): 3 calls, so the threads run.
    const wide = geometry(40, 64, 8, 8, 64, 1, 3, 1, 1);
    const [wx, ww, wgy] = [40 * 64 * 64, 64 * 64 * 9, 40 * 64 * 64].map((n) => Float32Array.from({ length: n }, () => own.normal()));
    const wideRun = (): Float32Array[] => {
      const out = new Float32Array(wx!.length), gx = new Float32Array(wx!.length);
      expect(conv2dForwardWasm(wide, flat(wx!), flat(ww!), null, flat(out))).toBe(true);
      expect(conv2dBackwardWasm(wide, flat(wgy!), null, flat(ww!), { input: flat(gx), weight: null, bias: null })).toBe(true);
      return [out, gx];
    };
    const wideSingle = wideRun();
    expect(await installWasmConvThreads({ threads: 3 })).toBe(true);
    wideRun().forEach((a, i) => expect(sameBits(a, wideSingle[i]!), `64×64 weights, ${i === 0 ? "output" : "input gradient"}`).toBe(true));
    expect(wasmConvThreadsActive()).toBe(true);
    cases.forEach(([g, chunk], i) => {
      const r = runAll(g, inputs[i]!.x, inputs[i]!.w, inputs[i]!.b, inputs[i]!.gy, inputs[i]!.gyPooled, chunk);
      const s = single[i]!;
      for (const key of ["out", "pooled", "argmax", "gx", "pooledGx", "pooledInference"] as const) expect(sameBits(r[key], s[key]), key).toBe(true);
      // Which thread claims which call changes from run to run; the sums must not.
      for (let again = 0; again < 3; again++) {
        const rerun = runAll(g, inputs[i]!.x, inputs[i]!.w, inputs[i]!.b, inputs[i]!.gy, inputs[i]!.gyPooled, chunk);
        for (const key of ["gw", "gb", "gwAlone"] as const) expect(sameBits(rerun[key], r[key]), `${key}, run ${again + 2}`).toBe(true);
      }
      expectClose(r.gw, s.gw, "gradWeight");
      expectClose(r.gb, s.gb, "gradBias");
      expectClose(r.gwAlone, s.gwAlone, "gradWeight alone");
      // Winograd's weight gradient rounds differently from im2col's: compare to the gradient's scale.
      const scale = s.gw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      s.gw.forEach((v, j) => expect(Math.abs(r.gwAlone[j]! - v)).toBeLessThan(1e-5 * scale + 1e-6));
    });
  });

  it("pools whole F(4×4, 3×3) tiles at inference as one thread does, bit for bit", () => {
    expect(wasmConvThreadsActive()).toBe(true);
    const own = new Generator(9);
    // 9 tiles an image: calls of whole images end inside groups of four tiles.
    const g = geometry(10, 16, 12, 12, 16, 1, 3, 1, 1);
    const x = Float32Array.from({ length: g.batch * 16 * 144 }, () => own.normal());
    const w = Float32Array.from({ length: 16 * 16 * 9 }, () => own.normal());
    const b = Float32Array.from({ length: 16 }, () => own.normal());
    const pooled = (): Float32Array => {
      const out = new Float32Array(g.batch * 16 * 36);
      expect(conv2dForwardWasm(g, flat(x), flat(w), flat(b), flat(out), { chunk: 1, reluMaxPool2x2: true })).toBe(true);
      return out;
    };
    const threaded = pooled();
    const conv = new Float32Array(g.batch * 16 * 144);
    expect(conv2dForwardWasm(g, flat(x), flat(w), flat(b), flat(conv), { chunk: 1, relu: true })).toBe(true);
    threaded.forEach((v, at) => {
      const row = (Math.floor(at / 36) * 12 + 2 * (Math.floor(at / 6) % 6)) * 12 + 2 * (at % 6);
      expect(v).toBe(Math.max(conv[row]!, conv[row + 1]!, conv[row + 12]!, conv[row + 13]!));
    });
    expect(sameBits(pooled(), threaded)).toBe(true);
  });

  it("sums the weight and bias gradients in as many regions as calls, in call order: each count repeats its bits, all agree to rounding", () => {
    expect(wasmConvThreadsActive()).toBe(true);
    // Winograd (input and weight gradients in one pass; with 64×64 channels, dU's transform back split across
    // the threads too), then im2col.
    for (const g of [geometry(12, 16, 9, 10, 24, 1, 3, 1, 1), geometry(8, 64, 6, 7, 64, 1, 3, 1, 1), geometry(12, 3, 9, 10, 5, 1, 3, 1, 1)]) {
      const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth), w = random(g.outChannels * g.inChannels * 9);
      const gy = random(g.batch * g.outChannels * g.outHeight * g.outWidth);
      const run = (calls: number): Float32Array[] => {
        const grads = { input: new Float32Array(x.length), weight: new Float32Array(w.length), bias: new Float32Array(g.outChannels) };
        expect(conv2dBackwardWasm(g, flat(gy), flat(x), flat(w), { input: flat(grads.input), weight: flat(grads.weight), bias: flat(grads.bias) }, { chunk: 1, calls })).toBe(true);
        return [grads.input, grads.weight, grads.bias];
      };
      const [gx, gw, gb] = run(1);
      for (const calls of [2, 5, 12]) {
        const first = run(calls);
        for (let again = 0; again < 2; again++) run(calls).forEach((a, i) => expect(sameBits(a, first[i]!), `run ${again + 2} of ${calls} calls, gradient ${i}`).toBe(true));
        expect(sameBits(first[0]!, gx!)).toBe(true);
        expectClose(first[1]!, gw!, `gradWeight, ${calls} calls`);
        expectClose(first[2]!, gb!, `gradBias, ${calls} calls`);
      }
    }
  });

  it("refuses a Winograd forward whose input has a NaN in its last image, and a backward whose output gradient has an infinity, as one thread does, after their calls ran", () => {
    expect(wasmConvThreadsActive()).toBe(true);
    // 24 images of 16×16×16 go in more calls than are brought in ahead of the first one.
    const g = geometry(24, 16, 16, 16, 16, 1, 3, 1, 1);
    const x = random(g.batch * 16 * 256);
    const w = random(16 * 16 * 9);
    const out = new Float32Array(g.batch * 16 * 256);
    expect(conv2dForwardWasm(g, flat(x), flat(w), null, flat(out))).toBe(true);
    x[x.length - 1] = Number.NaN;
    expect(conv2dForwardWasm(g, flat(x), flat(w), null, flat(out))).toBe(false);
    x[x.length - 1] = 0.5;
    expect(conv2dForwardWasm(g, flat(x), flat(w), null, flat(out))).toBe(true);
    // The backward's calls check their own output gradient: an infinity in the last image has both gradients
    // computed again by im2col, which puts it only where direct sums do (image 23's 3×3 pixels around it).
    const gy = random(g.batch * 16 * 256);
    gy[23 * 16 * 256 + 5 * 256 + 7 * 16 + 9] = Number.POSITIVE_INFINITY;
    const gx = new Float32Array(x.length);
    const gw = new Float32Array(w.length);
    expect(conv2dBackwardWasm(g, flat(gy), flat(x), flat(w), { input: flat(gx), weight: flat(gw), bias: null })).toBe(true);
    const bad = Array.from(gx.keys()).filter((i) => !Number.isFinite(gx[i]!));
    expect(bad.length).toBe(16 * 9);
    expect(bad.every((i) => Math.floor(i / (16 * 256)) === 23 && !Number.isNaN(gx[i]!))).toBe(true);
    expect(Array.from(gw.keys()).filter((i) => !Number.isFinite(gw[i]!)).every((i) => Math.floor(i / (16 * 9)) === 5)).toBe(true);
  });

  it("has each call zero the input gradient it adds into: after a backward that left a 1000× larger gradient there, the input gradient is the direct sums'", () => {
    expect(wasmConvThreadsActive()).toBe(true);
    // im2col (LeNet's conv2, with and without arg-max), a 1×1 kernel's planes, depthwise; chunks of 1 and 2 images.
    const geos: Array<[Conv2dWasmGeometry, number]> = [
      [geometry(8, 6, 12, 12, 16, 1, 5, 1, 0), 2], [geometry(6, 5, 7, 7, 4, 1, 1, 1, 0), 1], [geometry(6, 8, 9, 9, 8, 8, 3, 1, 1), 1],
    ];
    for (const [g, chunk] of geos) {
      const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth), w = random(g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth);
      const gy = random(g.batch * g.outChannels * g.outHeight * g.outWidth);
      const backward = (grad: Float32Array, argmax: Int32Array | null = null): Float32Array => {
        const gx = new Float32Array(x.length);
        expect(conv2dBackwardWasm(g, flat(grad), null, flat(w), { input: flat(gx), weight: null, bias: null }, { chunk, argmax })).toBe(true);
        return gx;
      };
      backward(gy.map((v) => 1000 * v));
      const gx = backward(gy);
      const reference = conv2dBackwardReference({
        x: Float64Array.from(x), xShape: [g.batch, g.inChannels, g.inHeight, g.inWidth], w: Float64Array.from(w),
        wShape: [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth], stride: [g.strideHeight, g.strideWidth],
        padding: [g.padHeight, g.padWidth], dilation: [1, 1], groups: g.groups,
      }, Float64Array.from(gy)).gradInput;
      reference.forEach((v, i) => expect(Math.abs(gx[i]! - v), `input gradient [${i}]`).toBeLessThan(1e-4 * (1 + Math.abs(v))));
      if (g.groups > 1 || g.kernelHeight === 1) continue;
      // Through the pooling's arg-max: each pooled gradient lands on the one output it came from.
      const argmax = new Int32Array(g.batch * g.outChannels * (g.outHeight >> 1) * (g.outWidth >> 1));
      expect(conv2dForwardWasm(g, flat(x), flat(w), null, flat(new Float32Array(argmax.length)), { chunk, reluMaxPool2x2: true, argmax })).toBe(true);
      const gyPooled = random(argmax.length);
      backward(gyPooled.map((v) => 1000 * v), argmax);
      const pooledGx = backward(gyPooled, argmax);
      const plane = g.outChannels * g.outHeight * g.outWidth;
      const routed = new Float64Array(gy.length);
      argmax.forEach((at, k) => {
        if (at >= 0) routed[Math.floor(k / (argmax.length / g.batch)) * plane + at] = gyPooled[k]!;
      });
      const pooledReference = conv2dBackwardReference({
        x: Float64Array.from(x), xShape: [g.batch, g.inChannels, g.inHeight, g.inWidth], w: Float64Array.from(w),
        wShape: [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1,
      }, routed).gradInput;
      pooledReference.forEach((v, i) => expect(Math.abs(pooledGx[i]! - v), `pooled input gradient [${i}]`).toBeLessThan(1e-4 * (1 + Math.abs(v))));
    }
  });

  it("stops, and the calling thread alone gives the same again", async () => {
    await stopWasmConvThreads();
    expect(wasmConvThreadsActive()).toBe(false);
    const [g, chunk] = cases[0]!;
    const x = random(g.batch * 784);
    const w = random(200);
    const out = new Float32Array(g.batch * 8 * 576);
    expect(conv2dForwardWasm(g, flat(x), flat(w), null, flat(out), { chunk })).toBe(true);
    expect(Number.isFinite(out[out.length - 1]!)).toBe(true);
  });

  it("refuses a thread count out of range", async () => {
    await expect(installWasmConvThreads({ threads: 0 })).rejects.toThrow(/threads must be an integer from 1 to 16, but got 0/);
  });
});
