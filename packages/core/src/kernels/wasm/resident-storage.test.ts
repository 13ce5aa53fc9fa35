import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearPool, pooledByteCount, recycle, storageOf } from "../../buffer-pool.js";
import { allocate, allocateUninitialized } from "../../dtype.js";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { Generator } from "../../random.js";
import { conv2dBackwardWasm, conv2dForwardWasm } from "../conv/conv2d-wasm.js";
import type { Conv2dWasmGeometry } from "../conv/conv2d-wasm.js";
import { optimizerJs, optimizerWasm } from "../optimizer.js";
import type { AdamHyper, SgdHyper } from "../optimizer.js";
import { batchNormBackwardWasm, batchNormForwardWasm } from "./batch-norm-wasm.js";
import { installWasmConvThreads, stopWasmConvThreads } from "./conv-wasm-threads.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./elementwise-wasm-threads.js";
import { gemmWasm, gemmWasmLocal, gemmWasmProducts } from "./gemm-wasm.js";
import { globalMeanBackwardWasm, globalMeanWasm } from "./global-mean-wasm.js";
import { installWasmGemmThreads, stopWasmGemmThreads } from "./gemm-wasm-threads.js";
import { addReluWasm, maxPool2x2BackwardWasm, maxPool2x2Wasm, reluBackwardWasm } from "./elementwise-wasm.js";
import { onFastPathWarning } from "../fast-path-warnings.js";
import type { FastPathWarning } from "../fast-path-warnings.js";
import { addressOf, attachResidentStorage, detachResidentStorage, MIN_RESIDENT_BYTES, residentBackwardEnded, residentStorageStats } from "./resident-storage.js";
import { runningWasmThreads } from "./shared-wasm-threads.js";
import { wasmApi } from "./wasm-api.js";
import type { WasmMemory } from "./wasm-api.js";

useNodeWorkers();

const gen = new Generator(23);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const bits = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);
/** The first index where a and b differ bit for bit, or -1 (toEqual on arrays this long takes seconds). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [bits(a), bits(b)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** A resident copy of `values` (allocate takes it from the threads' memory). */
function resident(values: Float32Array): Float32Array {
  const a = allocateUninitialized("float32", values.length) as Float32Array;
  a.set(values);
  return a;
}

const memory = (): WasmMemory => runningWasmThreads()!.memory;

/** Operands made by `make` from given values, checked unchanged by the kernels (none may write into its input) by `check`. */
function operands(make: (values: Float32Array) => Float32Array): { own: (values: Float32Array) => Float32Array; check: () => void } {
  const made: [Float32Array, Float32Array][] = [];
  return {
    own: (values) => {
      const a = make(values);
      made.push([a, Float32Array.from(values)]);
      return a;
    },
    check: () => {
      for (const [a, values] of made) expect(firstDifference(a, values)).toBe(-1);
    },
  };
}

describe("resident storage: tensor storage in the threads' shared memory", () => {
  beforeAll(async () => {
    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    expect(await installWasmGemmThreads({ threads: 2 })).toBe(true);
  });
  afterAll(async () => {
    await stopWasmGemmThreads();
    await stopWasmConvThreads();
    await stopWasmElementwiseThreads();
  });

  it("hands float32 arrays from MIN_RESIDENT_BYTES on out of the memory, ordinary ones below and for float64", () => {
    const floats = MIN_RESIDENT_BYTES / 4;
    const a = allocate("float32", floats) as Float32Array;
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(addressOf(memory(), a)).toBe(a.byteOffset);
    expect(Array.from(a.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(allocate("float32", floats - 1).buffer).toBeInstanceOf(ArrayBuffer);
    expect(allocate("float64", floats).buffer).toBeInstanceOf(ArrayBuffer);
    expect(addressOf(memory(), new Float32Array(floats))).toBe(-1);
    recycle(a);
  });

  it("gives a region back through the buffer pool's recycle, for the next array to take it", () => {
    const pooled = pooledByteCount();
    const a = allocate("float32", 20000) as Float32Array;
    const b = allocate("float32", 20000) as Float32Array;
    const before = residentStorageStats();
    expect(recycle(a)).toBe(true);
    // Not held by the pool: the region is free at once, and recycling it again changes nothing.
    expect(pooledByteCount()).toBe(pooled);
    expect(residentStorageStats().takenBytes).toBe(before.takenBytes - 80000);
    expect(recycle(a)).toBe(false);
    const c = allocate("float32", 20000) as Float32Array;
    expect(c).not.toBe(a);
    expect(c.byteOffset).toBe(a.byteOffset);
    expect(residentStorageStats()).toEqual(before);
    recycle(b);
    recycle(c);
  });

  it("gives each array's region an identity of its own (storageOf), shared by its views", () => {
    const a = allocate("float32", 20000) as Float32Array;
    const b = allocate("float32", 20000) as Float32Array;
    expect(a.buffer).toBe(b.buffer);
    expect(storageOf(a)).not.toBe(storageOf(b));
    expect(storageOf(a.subarray(100, 200))).toBe(storageOf(a));
    expect(storageOf(new Float32Array(a.buffer, b.byteOffset + 400, 10))).toBe(storageOf(b));
    const plain = new Float32Array(20000);
    expect(storageOf(plain)).toBe(plain.buffer);
    recycle(a);
    recycle(b);
  });

  it("keeps every array valid and in place while the memory grows", () => {
    const a = allocate("float32", 20000) as Float32Array;
    a.set(random(20000));
    const kept = Float32Array.from(a);
    const grownFrom = memory().buffer.byteLength;
    // 64 MB more: the memory grows, its buffer object changes, a's does not detach.
    const more = Array.from({ length: 8 }, () => allocate("float32", 2 << 20) as Float32Array);
    expect(memory().buffer.byteLength).toBeGreaterThan(grownFrom);
    expect(a.length).toBe(20000);
    expect(firstDifference(a, kept)).toBe(-1);
    expect(addressOf(memory(), a)).toBe(a.byteOffset);
    for (const m of more) {
      expect(addressOf(memory(), m)).toBe(m.byteOffset);
      recycle(m);
    }
    recycle(a);
  });

  it("gives a collected array's region back (FinalizationRegistry)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const before = residentStorageStats().takenBytes;
    (() => {
      for (let i = 0; i < 4; i++) allocate("float32", 30000);
    })();
    expect(residentStorageStats().takenBytes).toBeGreaterThanOrEqual(before + 4 * 120000);
    for (let i = 0; i < 20 && residentStorageStats().takenBytes > before; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(residentStorageStats().takenBytes).toBe(before);
  });

  // Each kernel on the same values through ordinary arrays (copied in and out) and resident ones (read and
  // written in place), all of them or the inputs only: the very same bits.
  const geometry = (kernel: number, batch = 8): Conv2dWasmGeometry => ({
    batch, inChannels: 16, inHeight: 16, inWidth: 16, outChannels: 16, groups: 1, kernelHeight: kernel, kernelWidth: kernel,
    strideHeight: 1, strideWidth: 1, padHeight: kernel >> 1, padWidth: kernel >> 1, dilationHeight: 1, dilationWidth: 1, outHeight: 16, outWidth: 16,
  });
  const size = 8 * 16 * 256;

  for (const kernel of [3, 5]) {
    it(`convolution ${kernel}x${kernel}: forward and backward give the same bits from resident arrays`, () => {
      const g = geometry(kernel);
      const [x, w, bias, gy] = [random(size), random(16 * 16 * kernel * kernel), random(16), random(size)];
      const run = (make: (a: Float32Array) => Float32Array, out: (n: number) => Float32Array): Float32Array[] => {
        const { own, check } = operands(make);
        const y = out(size);
        expect(conv2dForwardWasm(g, { data: own(x), offset: 0 }, { data: own(w), offset: 0 }, { data: bias, offset: 0 }, { data: y, offset: 0 })).toBe(true);
        const [gx, gw, gb] = [out(size), new Float32Array(w.length), new Float32Array(16)];
        const grads = { input: { data: gx, offset: 0 }, weight: { data: gw, offset: 0 }, bias: { data: gb, offset: 0 } };
        expect(conv2dBackwardWasm(g, { data: own(gy), offset: 0 }, { data: own(x), offset: 0 }, { data: own(w), offset: 0 }, grads)).toBe(true);
        check();
        return [y, gx, gw, gb].map((a) => Float32Array.from(a));
      };
      const copied = run((a) => a, (n) => new Float32Array(n));
      for (const result of [run(resident, (n) => allocate("float32", n) as Float32Array), run(resident, (n) => new Float32Array(n)), run((a) => a, (n) => allocate("float32", n) as Float32Array)]) {
        result.forEach((r, i) => expect(firstDifference(r, copied[i]!)).toBe(-1));
      }
    });
  }

  for (const kernel of [3, 5]) {
    it(`convolution ${kernel}x${kernel} + ReLU + 2x2 max pooling with arg-max: forward and backward give the same bits from resident arrays`, () => {
      // 32 images, so that the pooled output and its arg-max (32·16·8·8 floats) are resident too.
      const g = geometry(kernel, 32);
      const size = 32 * 16 * 256;
      const pooled = size / 4;
      const [x, w, bias, gy] = [random(size), random(16 * 16 * kernel * kernel), random(16), random(pooled)];
      const run = (make: (a: Float32Array) => Float32Array, out: (n: number) => Float32Array): Float32Array[] => {
        const { own, check } = operands(make);
        const [y, argmaxFloats] = [out(pooled), out(pooled)];
        const argmax = new Int32Array(argmaxFloats.buffer, argmaxFloats.byteOffset, pooled);
        if (argmaxFloats.buffer instanceof SharedArrayBuffer) expect(addressOf(memory(), argmax)).toBe(argmaxFloats.byteOffset);
        const options = { reluMaxPool2x2: true, argmax };
        expect(conv2dForwardWasm(g, { data: own(x), offset: 0 }, { data: own(w), offset: 0 }, { data: bias, offset: 0 }, { data: y, offset: 0 }, options)).toBe(true);
        const [gx, gw, gb] = [out(size), new Float32Array(w.length), new Float32Array(16)];
        const grads = { input: { data: gx, offset: 0 }, weight: { data: gw, offset: 0 }, bias: { data: gb, offset: 0 } };
        expect(conv2dBackwardWasm(g, { data: own(gy), offset: 0 }, { data: own(x), offset: 0 }, { data: own(w), offset: 0 }, grads, { argmax })).toBe(true);
        check();
        return [y, argmaxFloats, gx, gw, gb].map((a) => Float32Array.from(a));
      };
      const copied = run((a) => a, (n) => new Float32Array(n));
      for (const result of [run(resident, (n) => allocate("float32", n) as Float32Array), run(resident, (n) => new Float32Array(n)), run((a) => a, (n) => allocate("float32", n) as Float32Array)]) {
        result.forEach((r, i) => expect(firstDifference(r, copied[i]!)).toBe(-1));
      }
    });
  }

  it("batch norm: forward and backward (with ReLU, with a residual) give the same bits from resident arrays", () => {
    const [n, c, s] = [8, 16, 256];
    const [x, gamma, beta, g, r] = [random(size), random(c), random(c), random(size), random(size)];
    const run = (make: (a: Float32Array) => Float32Array, out: (n: number) => Float32Array): Float32Array[] => {
      const { own, check } = operands(make);
      const results: Float32Array[] = [];
      const xs = own(x);
      for (const withResidual of [false, true]) {
        const [y, stats, affine, sums] = [out(size), new Float64Array(3 * c), new Float64Array(3 * c), new Float64Array(2 * c)];
        const residual = withResidual ? own(r) : null;
        expect(batchNormForwardWasm(xs, y, n, c, s, { train: true, relu: true, gamma, beta, eps: 1e-5, sync: null, residual }, stats, affine)).toBe(true);
        const dx = out(size);
        const rg = withResidual ? { y: own(Float32Array.from(y)), grad: out(size) } : null;
        expect(batchNormBackwardWasm(xs, own(g), dx, n, c, s, true, true, stats, affine, sums, null, false, rg)).toBe(true);
        results.push(Float32Array.from(y), Float32Array.from(dx), new Float32Array(sums), new Float32Array(stats));
        if (rg !== null) results.push(Float32Array.from(rg.grad));
      }
      // The parts' gradient (g + g2) and an input gradient written over g.
      const [stats, affine, sums] = [new Float64Array(3 * c), new Float64Array(3 * c), new Float64Array(2 * c)];
      expect(batchNormForwardWasm(own(x), out(size), n, c, s, { train: true, relu: false, gamma, beta, eps: 1e-5, sync: null }, stats, affine)).toBe(true);
      const dx = out(size);
      expect(batchNormBackwardWasm(own(x), own(g), dx, n, c, s, true, false, stats, affine, sums, null, false, null, own(r))).toBe(true);
      const gInPlace = make(g);
      expect(batchNormBackwardWasm(own(x), gInPlace, gInPlace, n, c, s, true, false, stats, affine, new Float64Array(2 * c))).toBe(true);
      check();
      return [...results, Float32Array.from(dx), new Float32Array(sums), Float32Array.from(gInPlace)];
    };
    const copied = run((a) => Float32Array.from(a), (k) => new Float32Array(k));
    for (const result of [run(resident, (k) => allocate("float32", k) as Float32Array), run(resident, (k) => new Float32Array(k)), run((a) => Float32Array.from(a), (k) => allocate("float32", k) as Float32Array)]) {
      result.forEach((v, i) => expect(firstDifference(v, copied[i]!)).toBe(-1));
    }
  });

  it("GEMM: products, split or not, and independent products at once give the same bits from resident arrays, C overlapping A copied", () => {
    /** A resident copy of `values` of any length: the front of a resident array at least MIN_RESIDENT_BYTES long. */
    const residentAny = (values: Float32Array): Float32Array => resident(Float32Array.from({ length: Math.max(values.length, MIN_RESIDENT_BYTES / 4) }, (_, i) => values[i] ?? 0)).subarray(0, values.length);
    const [x, w, g, big, c0] = [random(64 * 300), random(120 * 256), random(64 * 120), random(256 * 256), random(64 * 130)];
    const run = (make: (v: Float32Array) => Float32Array): Float32Array[] => {
      const { own, check } = operands(make);
      const [xs, ws, gs, bigs] = [own(x), own(w), own(g), own(big)];
      const view = (data: Float32Array, ld: number, trans: boolean, offset = 0) => ({ data, offset, ld, trans });
      // A linear layer's forward (x of 64×256 read from rows 300 apart at offset 7, weight transposed) into
      // C rows 130 apart at offset 3, accumulating; its input and weight gradients one by one and at once;
      // a product over the threads' threshold; C overlapping A in one array.
      const forward = make(c0);
      gemmWasm(64, 120, 256, view(xs, 300, false, 7), view(ws, 256, true), { data: forward, offset: 3, ld: 130 }, true);
      const gx = make(new Float32Array(64 * 256));
      gemmWasm(64, 256, 120, view(gs, 120, false), view(ws, 256, false), { data: gx, offset: 0, ld: 256 }, false);
      const gw = make(w);
      gemmWasm(120, 256, 64, view(gs, 120, true), view(xs, 300, false), { data: gw, offset: 0, ld: 256 }, true);
      const [gxAtOnce, gwAtOnce] = [make(new Float32Array(64 * 256)), make(w)];
      expect(gemmWasmProducts([
        { m: 64, n: 256, k: 120, a: view(gs, 120, false), b: view(ws, 256, false), c: { data: gxAtOnce, offset: 0, ld: 256 }, accumulate: false },
        { m: 120, n: 256, k: 64, a: view(gs, 120, true), b: view(xs, 300, false), c: { data: gwAtOnce, offset: 0, ld: 256 }, accumulate: true },
      ])).toBe(true);
      const square = make(new Float32Array(256 * 256));
      gemmWasm(256, 256, 256, view(bigs, 256, false), view(bigs, 256, true), { data: square, offset: 0, ld: 256 }, false);
      const overlapping = make(big);
      gemmWasm(64, 120, 256, view(overlapping, 256, false), view(ws, 256, true), { data: overlapping, offset: 128, ld: 256 }, true);
      check();
      return [forward, gx, gw, gxAtOnce, gwAtOnce, square, overlapping].map((v) => Float32Array.from(v));
    };
    const copied = run((v) => Float32Array.from(v));
    const inPlace = run(residentAny);
    expect(addressOf(memory(), residentAny(g))).toBeGreaterThan(0);
    inPlace.forEach((v, i) => expect(firstDifference(v, copied[i]!)).toBe(-1));
    // The independent products as the calling thread alone computes them, and the forward split in two as one job.
    expect(firstDifference(inPlace[3]!, inPlace[1]!)).toBe(-1);
    expect(firstDifference(inPlace[4]!, inPlace[2]!)).toBe(-1);
    const alone = Float32Array.from(c0);
    gemmWasmLocal(64, 120, 256, { data: x, offset: 7, ld: 300, trans: false }, { data: w, offset: 0, ld: 256, trans: true }, { data: alone, offset: 3, ld: 130 }, true);
    expect(firstDifference(inPlace[0]!, alone)).toBe(-1);
  });

  it("optimizers: Adam, AdamW with amsgrad and SGD with momentum update resident parameters on the threads to the TypeScript loops' bits", () => {
    const adam: AdamHyper = { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    const adamw: AdamHyper = { ...adam, weightDecay: 0.1, amsgrad: true };
    const sgd: SgdHyper = { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true, weightDecay: 0.01, maximize: false };
    // 16,388 floats go to the threads; 16,386 (not whole vectors of 4) stay on the calling thread, same bits.
    for (const n of [16388, 16386]) {
      const [p0, g0] = [random(n), random(n)];
      const run = (make: (v: Float32Array) => Float32Array, kernel: typeof optimizerJs, gResident: boolean): Float32Array[] => {
        const zeros = (): Float32Array => make(new Float32Array(n));
        const [pa, pw, ps] = [make(p0), make(p0), make(p0)];
        const [m, v, mw, vw, vmax, buf] = [zeros(), zeros(), zeros(), zeros(), zeros(), zeros()];
        const g = gResident ? make(g0) : Float32Array.from(g0);
        for (let step = 1; step <= 3; step++) {
          kernel.adam(pa, g, m, v, null, step, adam, false);
          kernel.adam(pw, g, mw, vw, vmax, step, adamw, true);
          kernel.sgd(ps, g, buf, step === 1, sgd);
        }
        expect(firstDifference(g, g0)).toBe(-1);
        return [pa, m, v, pw, mw, vw, vmax, ps, buf].map((a) => Float32Array.from(a));
      };
      const loops = run((v) => Float32Array.from(v), optimizerJs, false);
      expect(addressOf(memory(), resident(p0))).toBeGreaterThan(0);
      for (const result of [run(resident, optimizerWasm, false), run(resident, optimizerWasm, true), run((v) => Float32Array.from(v), optimizerWasm, false)]) {
        result.forEach((a, i) => expect(firstDifference(a, loops[i]!)).toBe(-1));
      }
    }
  });

  it("add + ReLU, ReLU's backward and 2x2 max pooling give the same bits from resident arrays", () => {
    const [a, b, gy] = [random(size), random(size), random(size / 4)];
    const run = (make: (v: Float32Array) => Float32Array, out: (n: number) => Float32Array): Float32Array[] => {
      const { own, check } = operands(make);
      const y = out(size);
      expect(addReluWasm(own(a), own(b), y)).toBe(true);
      const dx = out(size);
      expect(reluBackwardWasm(own(b), own(y), dx)).toBe(true);
      const inPlace = make(a);
      expect(addReluWasm(inPlace, own(b), inPlace)).toBe(true);
      const pooled = out(size / 4);
      const argmaxFloats = out(size / 4);
      const argmax = new Int32Array(argmaxFloats.buffer, argmaxFloats.byteOffset, size / 4);
      expect(maxPool2x2Wasm(own(a), pooled, argmax, 8 * 16, 16, 16, 8, 8)).toBe(true);
      const gx = out(size);
      expect(maxPool2x2BackwardWasm(own(gy), argmax, gx, 8 * 16, 16, 16, 8, 8)).toBe(true);
      check();
      return [y, dx, inPlace, pooled, argmaxFloats, gx].map((v) => Float32Array.from(v));
    };
    const copied = run((v) => Float32Array.from(v), (n) => new Float32Array(n));
    for (const result of [run(resident, (n) => allocate("float32", n) as Float32Array), run(resident, (n) => new Float32Array(n)), run((v) => Float32Array.from(v), (n) => allocate("float32", n) as Float32Array)]) {
      result.forEach((v, i) => expect(firstDifference(v, copied[i]!)).toBe(-1));
    }
  });

  it("the global mean (forward and backward, split by planes) gives the same bits from resident arrays", () => {
    // 512 planes of 8x8 (64 floats): the 32,768 elements split across the threads.
    const [planes, plane] = [512, 64];
    const [x, gy] = [random(planes * plane), random(planes)];
    const run = (make: (v: Float32Array) => Float32Array, out: (n: number) => Float32Array): Float32Array[] => {
      const { own, check } = operands(make);
      const means = out(planes);
      expect(globalMeanWasm(own(x), means, planes, plane)).toBe(true);
      const gx = out(planes * plane).fill(Number.NaN);
      expect(globalMeanBackwardWasm(own(gy), gx, planes, plane)).toBe(true);
      check();
      return [means, gx].map((v) => Float32Array.from(v));
    };
    const copied = run((v) => Float32Array.from(v), (n) => new Float32Array(n));
    expect(addressOf(memory(), resident(x))).toBeGreaterThan(0);
    for (const result of [run(resident, (n) => allocate("float32", n) as Float32Array), run(resident, (n) => new Float32Array(n)), run((v) => Float32Array.from(v), (n) => allocate("float32", n) as Float32Array)]) {
      result.forEach((v, i) => expect(firstDifference(v, copied[i]!)).toBe(-1));
    }
  });
});

describe("resident storage: exhaustion and threads that stop", () => {
  it("falls back to ordinary arrays once the regions would pass their limit or the memory cannot grow", () => {
    clearPool();
    const warnings: FastPathWarning[] = [];
    onFastPathWarning((w) => warnings.push(w));
    const limited = new (wasmApi()!.Memory)({ initial: 1, maximum: 64, shared: true });
    attachResidentStorage(limited, 1024, 1 << 20);
    try {
      const taken = Array.from({ length: 4 }, () => allocate("float32", 65536) as Float32Array);
      for (const t of taken) expect(addressOf(limited, t)).toBe(t.byteOffset);
      // A fifth would pass the 1 MiB limit: an ordinary array, zero-filled.
      const fifth = allocate("float32", 65536);
      expect(fifth.buffer).toBeInstanceOf(ArrayBuffer);
      expect(fifth.every((v) => v === 0)).toBe(true);
      // A region freed in the middle is taken again.
      recycle(taken[1]!);
      expect(allocate("float32", 65536).byteOffset).toBe(taken[1]!.byteOffset);
      detachResidentStorage(limited);
      const capped = new (wasmApi()!.Memory)({ initial: 1, maximum: 2, shared: true });
      attachResidentStorage(capped, 1024);
      // The memory may not grow past 128 KiB: ordinary arrays.
      expect(allocate("float32", 65536).buffer).toBeInstanceOf(ArrayBuffer);
      detachResidentStorage(capped);
      // No backward pass has ended on these memories: the warnings name one step's need or a pile-up.
      expect(warnings.map((w) => w.reason)).toEqual([
        "the tensors live at once would span more than the 1 MiB the threads' shared memory keeps for them",
        "the threads' shared memory cannot grow to hold the tensors live at once",
      ]);
      expect(warnings[0]!.message).toContain("A large batch or model needs that much within one step");
      expect(warnings[0]!.message).toContain("with no backward pass ending the steps (an inference loop), tensors nobody gives back pile up");
    } finally {
      onFastPathWarning(null);
      detachResidentStorage(limited);
    }
  });

  it("takes regions past the budget within a step; once a backward pass ends with more than it taken, none new until they fall to it", () => {
    clearPool();
    const warnings: FastPathWarning[] = [];
    onFastPathWarning((w) => warnings.push(w));
    const memory = new (wasmApi()!.Memory)({ initial: 1, maximum: 64, shared: true });
    // 1 MiB span, 256 KiB budget: arrays of 256 KiB.
    attachResidentStorage(memory, 1024, 1 << 20, 1 << 18);
    try {
      const step = Array.from({ length: 3 }, () => allocate("float32", 65536) as Float32Array);
      expect(step.every((a) => addressOf(memory, a) === a.byteOffset)).toBe(true);
      // A backward pass that gives its regions back: the next step takes as many again.
      step.forEach((a) => recycle(a));
      residentBackwardEnded();
      const next = Array.from({ length: 3 }, () => allocate("float32", 65536) as Float32Array);
      expect(next.every((a) => addressOf(memory, a) === a.byteOffset)).toBe(true);
      expect(warnings).toEqual([]);
      // A backward pass that ends with 768 KiB still taken: new arrays are ordinary.
      residentBackwardEnded();
      expect(allocate("float32", 65536).buffer).toBeInstanceOf(ArrayBuffer);
      recycle(next[0]!);
      expect(allocate("float32", 65536).buffer).toBeInstanceOf(ArrayBuffer);
      // Back to the budget: resident again.
      recycle(next[1]!);
      const again = allocate("float32", 65536) as Float32Array;
      expect(addressOf(memory, again)).toBe(again.byteOffset);
      expect(warnings.map((w) => w.reason)).toEqual(["the tensors in the threads' shared memory still held more than 256 KiB at the end of a backward pass"]);
    } finally {
      onFastPathWarning(null);
      detachResidentStorage(memory);
    }
  });

  it("makes ordinary arrays again once the threads stop; the resident ones stay valid and are still given back", async () => {
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    const threadsMemory = memory();
    const a = allocate("float32", 20000) as Float32Array;
    a.fill(3);
    await stopWasmElementwiseThreads();
    expect(residentStorageStats().active).toBe(false);
    expect(allocate("float32", 20000).buffer).toBeInstanceOf(ArrayBuffer);
    expect(addressOf(threadsMemory, a)).toBe(a.byteOffset);
    expect(a[19999]).toBe(3);
    expect(recycle(a)).toBe(true);
  });
});
