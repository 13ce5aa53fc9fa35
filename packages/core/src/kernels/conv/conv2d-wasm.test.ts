import { afterEach, describe, expect, it, vi } from "vitest";
import { Generator } from "../../random.js";
import { wasmAvailable } from "../wasm/engine.js";
import { conv2dBackwardWasm, conv2dForwardWasm, conv2dWasmPath } from "./conv2d-wasm.js";
import type { Conv2dWasmGeometry } from "./conv2d-wasm.js";

// The thorough comparison against @pico/nn's nested-loop reference and TypeScript im2col lives in
// conv2d.test.ts; here, the module's own contract on a direct sum.

interface Case {
  n: number; c: number; h: number; w: number; o: number; groups: number;
  k: [number, number]; s: [number, number]; p: [number, number]; d: [number, number];
}

function geometry(t: Case): Conv2dWasmGeometry {
  const out = (size: number, i: 0 | 1): number => Math.floor((size + 2 * t.p[i] - t.d[i] * (t.k[i] - 1) - 1) / t.s[i]) + 1;
  return {
    batch: t.n, inChannels: t.c, inHeight: t.h, inWidth: t.w, outChannels: t.o, groups: t.groups,
    kernelHeight: t.k[0], kernelWidth: t.k[1], strideHeight: t.s[0], strideWidth: t.s[1],
    padHeight: t.p[0], padWidth: t.p[1], dilationHeight: t.d[0], dilationWidth: t.d[1],
    outHeight: out(t.h, 0), outWidth: out(t.w, 1),
  };
}

/** Calls visit(outIndex, inIndex, weightIndex) for every product term of the convolution. */
function terms(g: Conv2dWasmGeometry, visit: (outIndex: number, inIndex: number, weightIndex: number) => void): void {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  for (let n = 0; n < g.batch; n++) for (let o = 0; o < g.outChannels; o++) for (let i = 0; i < g.outHeight; i++) for (let j = 0; j < g.outWidth; j++) {
    for (let c = 0; c < cg; c++) for (let u = 0; u < g.kernelHeight; u++) for (let v = 0; v < g.kernelWidth; v++) {
      const row = i * g.strideHeight - g.padHeight + u * g.dilationHeight;
      const col = j * g.strideWidth - g.padWidth + v * g.dilationWidth;
      if (row < 0 || row >= g.inHeight || col < 0 || col >= g.inWidth) continue;
      visit(
        ((n * g.outChannels + o) * g.outHeight + i) * g.outWidth + j,
        ((n * g.inChannels + Math.floor(o / og) * cg + c) * g.inHeight + row) * g.inWidth + col,
        ((o * cg + c) * g.kernelHeight + u) * g.kernelWidth + v,
      );
    }
  }
}

const gen = new Generator(11);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());

function expectClose(actual: Float32Array, expected: Float64Array, label: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > 1e-4 * (1 + Math.abs(expected[i]!))) {
      throw new Error(`${label}[${i}]: wasm ${actual[i]} vs direct sum ${expected[i]}`);
    }
  }
}

/** The geometries conv2dForward's Winograd path computes when pooling without arg-max (winogradFits in assembly/conv.ts). */
const winogradTakes = (g: Conv2dWasmGeometry): boolean =>
  g.groups === 1 && g.kernelHeight === 5 && g.kernelWidth === 5 && g.strideHeight === 1 && g.strideWidth === 1 &&
  g.dilationHeight === 1 && g.dilationWidth === 1 && g.padHeight === 0 && g.padWidth === 0 &&
  g.inChannels >= 4 && g.outWidth % 8 === 0 && g.outHeight % 2 === 0;

/** maxPool2x2(max(0, conv + bias)) in float64 by direct sums, [N, O, oH/2, oW/2]. */
function pooledReference(g: Conv2dWasmGeometry, x: Float32Array, w: Float32Array, b: Float32Array | null): Float64Array {
  const plane = g.outHeight * g.outWidth;
  const conv = new Float64Array(g.batch * g.outChannels * plane);
  terms(g, (o, i, k) => (conv[o] = conv[o]! + x[i]! * w[k]!));
  const pH = g.outHeight >> 1, pW = g.outWidth >> 1;
  const out = new Float64Array(g.batch * g.outChannels * pH * pW);
  for (let n = 0, at = 0; n < g.batch; n++) for (let o = 0; o < g.outChannels; o++) for (let i = 0; i < pH; i++) for (let j = 0; j < pW; j++, at++) {
    let best = 0;
    for (const [di, dj] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      best = Math.max(best, conv[((n * g.outChannels + o) * g.outHeight + 2 * i + di) * g.outWidth + 2 * j + dj]! + (b === null ? 0 : b[o]!));
    }
    out[at] = best;
  }
  return out;
}

const cases: Case[] = [
  { n: 3, c: 1, h: 28, w: 28, o: 8, groups: 1, k: [5, 5], s: [1, 1], p: [0, 0], d: [1, 1] },
  { n: 3, c: 8, h: 12, w: 12, o: 16, groups: 1, k: [5, 5], s: [1, 1], p: [0, 0], d: [1, 1] },
  { n: 1, c: 3, h: 9, w: 7, o: 5, groups: 1, k: [3, 2], s: [2, 3], p: [1, 2], d: [2, 1] },
  { n: 3, c: 4, h: 6, w: 5, o: 6, groups: 2, k: [2, 3], s: [1, 2], p: [2, 1], d: [1, 2] },
  { n: 2, c: 6, h: 5, w: 5, o: 3, groups: 3, k: [1, 1], s: [1, 1], p: [0, 0], d: [1, 1] },
  // Whole unit-stride rows of 12 (a multiple of 4 but not of 8) and of 16, with padded rows above and below.
  { n: 2, c: 2, h: 5, w: 14, o: 3, groups: 1, k: [2, 3], s: [2, 1], p: [1, 0], d: [1, 1] },
  { n: 1, c: 1, h: 4, w: 18, o: 2, groups: 1, k: [3, 3], s: [1, 1], p: [2, 0], d: [2, 1] },
  // The direct kernel (no im2col): two blocks of 4 output channels, two of 8 columns, non-square taps.
  { n: 2, c: 3, h: 10, w: 17, o: 8, groups: 1, k: [3, 2], s: [1, 1], p: [0, 0], d: [1, 1] },
  // ... and with an odd number of output rows (the last is not pooled).
  { n: 3, c: 2, h: 7, w: 10, o: 4, groups: 1, k: [3, 3], s: [1, 1], p: [0, 0], d: [1, 1] },
];

describe("conv2dForwardWasm / conv2dBackwardWasm", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("runs here (Node 20 has WebAssembly SIMD)", () => {
    expect(wasmAvailable()).toBe(true);
  });

  for (const t of cases) {
    for (const chunk of [1, 2, undefined]) {
      it(`x=[${t.n},${t.c},${t.h},${t.w}] o=${t.o} g=${t.groups} k=${t.k} s=${t.s} p=${t.p} d=${t.d} chunk=${chunk ?? "default"}: forward, ReLU and the three gradients equal the direct sums`, () => {
        const g = geometry(t);
        const outSize = g.batch * g.outChannels * g.outHeight * g.outWidth;
        const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth + 3);
        const w = random(g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth);
        const b = random(g.outChannels);
        const gy = random(outSize);
        const options = chunk === undefined ? {} : { chunk };
        const plane = g.outHeight * g.outWidth;
        const expected = Float64Array.from({ length: outSize }, (_, i) => b[Math.floor(i / plane) % g.outChannels]!);
        const gx = new Float64Array(x.length - 3);
        const gw = new Float64Array(w.length);
        const gb = new Float64Array(g.outChannels);
        terms(g, (oi, ii, wi) => {
          expected[oi] = expected[oi]! + x[ii + 3]! * w[wi]!;
          gx[ii] = gx[ii]! + gy[oi]! * w[wi]!;
          gw[wi] = gw[wi]! + gy[oi]! * x[ii + 3]!;
        });
        for (let i = 0; i < outSize; i++) {
          const o = Math.floor(i / plane) % g.outChannels;
          gb[o] = gb[o]! + gy[i]!;
        }

        const out = new Float32Array(outSize + 2).fill(Number.NaN);
        expect(conv2dForwardWasm(g, { data: x, offset: 3 }, { data: w, offset: 0 }, { data: b, offset: 0 }, { data: out, offset: 2 }, options)).toBe(true);
        expectClose(out.subarray(2), expected, "out");
        const relu = new Float32Array(outSize);
        conv2dForwardWasm(g, { data: x, offset: 3 }, { data: w, offset: 0 }, { data: b, offset: 0 }, { data: relu, offset: 0 }, { ...options, relu: true });
        expectClose(relu, expected.map((v) => Math.max(v, 0)), "relu");

        const grads = { input: new Float32Array(gx.length).fill(Number.NaN), weight: new Float32Array(gw.length).fill(Number.NaN), bias: new Float32Array(gb.length).fill(Number.NaN) };
        const ok = conv2dBackwardWasm(g, { data: gy, offset: 0 }, { data: x, offset: 3 }, { data: w, offset: 0 }, {
          input: { data: grads.input, offset: 0 }, weight: { data: grads.weight, offset: 0 }, bias: { data: grads.bias, offset: 0 },
        }, options);
        expect(ok).toBe(true);
        expectClose(grads.input, gx, "gradInput");
        expectClose(grads.weight, gw, "gradWeight");
        expectClose(grads.bias, gb, "gradBias");

        const only = new Float32Array(gx.length);
        conv2dBackwardWasm(g, { data: gy, offset: 0 }, null, { data: w, offset: 0 }, { input: { data: only, offset: 0 }, weight: null, bias: null }, options);
        expectClose(only, gx, "gradInput alone");
      });
    }
  }

  for (const t of [cases[0]!, cases[1]!, cases[3]!, { ...cases[2]!, n: 3, h: 10 }, cases[7]!, cases[8]!]) {
    it(`x=[${t.n},${t.c},${t.h},${t.w}] o=${t.o} g=${t.groups}: reluMaxPool2x2 pools the ReLU'd output with the first maximum's index, and its backward routes through it`, () => {
      const g = geometry(t);
      const plane = g.outHeight * g.outWidth;
      const pH = g.outHeight >> 1;
      const pW = g.outWidth >> 1;
      const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth);
      const w = random(g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth);
      const b = random(g.outChannels);
      const conv = new Float32Array(g.batch * g.outChannels * plane);
      conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, { data: b, offset: 0 }, { data: conv, offset: 0 });
      const pooledSize = g.batch * g.outChannels * pH * pW;
      const expected = new Float64Array(pooledSize);
      const expectedIndex = new Int32Array(pooledSize);
      for (let n = 0, o = 0; n < g.batch; n++) for (let c = 0; c < g.outChannels; c++) for (let i = 0; i < pH; i++) for (let j = 0; j < pW; j++, o++) {
        let best = 0;
        let index = -1;
        for (const [di, dj] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
          const at = (c * g.outHeight + 2 * i + di) * g.outWidth + 2 * j + dj;
          if (conv[n * g.outChannels * plane + at]! > best) [best, index] = [conv[n * g.outChannels * plane + at]!, at];
        }
        expected[o] = best;
        expectedIndex[o] = index;
      }
      for (const chunk of [1, 3]) {
        const pooled = new Float32Array(pooledSize).fill(Number.NaN);
        const argmax = new Int32Array(pooledSize).fill(-7);
        expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, { data: b, offset: 0 }, { data: pooled, offset: 0 }, { chunk, reluMaxPool2x2: true, argmax })).toBe(true);
        expectClose(pooled, expected, "pooled");
        expect(Array.from(argmax)).toEqual(Array.from(expectedIndex));
        // Without arg-max (inference), the direct kernel pools on its accumulators: the very same values,
        // unless Winograd's algorithm takes the geometry (5×5, at least 4 input channels): then float32-close.
        const inferred = new Float32Array(pooledSize).fill(Number.NaN);
        conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, { data: b, offset: 0 }, { data: inferred, offset: 0 }, { chunk, reluMaxPool2x2: true });
        if (winogradTakes(g)) expectClose(inferred, expected, "inferred");
        else expect(Array.from(inferred)).toEqual(Array.from(pooled));

        const gyPooled = random(pooledSize);
        const gyFull = new Float32Array(conv.length);
        for (let o = 0; o < pooledSize; o++) {
          if (expectedIndex[o]! < 0) continue;
          const at = Math.floor(o / (g.outChannels * pH * pW)) * g.outChannels * plane + expectedIndex[o]!;
          gyFull[at] = gyFull[at]! + gyPooled[o]!;
        }
        const want = { input: new Float32Array(x.length), weight: new Float32Array(w.length), bias: new Float32Array(b.length) };
        const got = { input: new Float32Array(x.length), weight: new Float32Array(w.length), bias: new Float32Array(b.length) };
        const slices = (r: typeof want) => ({ input: { data: r.input, offset: 0 }, weight: { data: r.weight, offset: 0 }, bias: { data: r.bias, offset: 0 } });
        conv2dBackwardWasm(g, { data: gyFull, offset: 0 }, { data: x, offset: 0 }, { data: w, offset: 0 }, slices(want), { chunk });
        expect(conv2dBackwardWasm(g, { data: gyPooled, offset: 0 }, { data: x, offset: 0 }, { data: w, offset: 0 }, slices(got), { chunk, argmax })).toBe(true);
        expectClose(got.input, Float64Array.from(want.input), "pooled gradInput");
        expectClose(got.weight, Float64Array.from(want.weight), "pooled gradWeight");
        expectClose(got.bias, Float64Array.from(want.bias), "pooled gradBias");
      }
    });
  }

  it("returns false where WebAssembly is missing", async () => {
    vi.resetModules();
    vi.stubGlobal("WebAssembly", undefined);
    const fresh = await import("./conv2d-wasm.js");
    const engine = await import("../wasm/engine.js");
    const g = geometry(cases[0]!);
    expect(engine.wasmAvailable()).toBe(false);
    const out = new Float32Array(g.batch * g.outChannels * g.outHeight * g.outWidth);
    expect(fresh.conv2dForwardWasm(g, { data: random(3 * 784), offset: 0 }, { data: random(200), offset: 0 }, null, { data: out, offset: 0 })).toBe(false);
    expect(fresh.conv2dBackwardWasm(g, { data: out, offset: 0 }, null, { data: random(200), offset: 0 }, { input: { data: random(3 * 784), offset: 0 }, weight: null, bias: null })).toBe(false);
  });

  describe("inference (pooling without arg-max) by Winograd's F(4×4, 3×3), each whole tile pooled before it is stored", () => {
    const padded = (n: number, c: number, h: number, w: number, o: number, p: number): Case => ({ n, c, h, w, o, groups: 1, k: [3, 3], s: [1, 1], p: [p, p], d: [1, 1] });
    const geometries: [Case, string][] = [
      [padded(2, 16, 8, 8, 16, 1), "two images of four whole tiles"],
      [padded(3, 16, 12, 12, 20, 1), "9 tiles an image, 27 in all (a partial group of four)"],
      [padded(1, 17, 10, 6, 16, 0), "17 input channels, an 8×4 output (a single column of tiles)"],
      [padded(2, 16, 10, 10, 16, 1), "a 10×10 output (partial tiles): not Winograd's"],
    ];
    for (const [t, what] of geometries) {
      for (const withBias of [true, false]) {
        it(`x=[${t.n},${t.c},${t.h},${t.w}] o=${t.o}${withBias ? "" : " without bias"}: ${what}`, () => {
          const g = geometry(t);
          const whole = g.outHeight % 4 === 0 && g.outWidth % 4 === 0;
          if (whole) expect(conv2dWasmPath(g, { reluMaxPool2x2: true })).toBe("winograd3x3");
          else expect(conv2dWasmPath(g, { reluMaxPool2x2: true })).not.toBe("winograd3x3");
          // Training keeps the arg-max, which only the direct and im2col kernels record.
          expect(conv2dWasmPath(g, { reluMaxPool2x2: true, argmax: true })).not.toBe("winograd3x3");
          const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth);
          const w = random(g.outChannels * g.inChannels * 9);
          const b = withBias ? random(g.outChannels) : null;
          const bias = b === null ? null : { data: b, offset: 0 };
          const expected = pooledReference(g, x, w, b);
          for (const chunk of [undefined, 1]) {
            const out = new Float32Array(expected.length + 1).fill(Number.NaN);
            expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, bias, { data: out, offset: 1 }, { chunk, reluMaxPool2x2: true })).toBe(true);
            expect(out[0]).toBeNaN();
            expectClose(out.subarray(1), expected, "pooled");
            // The same bits as the convolution with its ReLU, pooled afterwards: bias and ReLU commute with the maximum.
            const conv = new Float32Array(g.batch * g.outChannels * g.outHeight * g.outWidth);
            conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, bias, { data: conv, offset: 0 }, { chunk, relu: true });
            const [pH, pW] = [g.outHeight >> 1, g.outWidth >> 1];
            const pooled = Float32Array.from({ length: expected.length }, (_, at) => {
              const j = at % pW, i = Math.floor(at / pW) % pH, plane = Math.floor(at / (pH * pW));
              const row = (plane * g.outHeight + 2 * i) * g.outWidth + 2 * j;
              return Math.max(conv[row]!, conv[row + 1]!, conv[row + g.outWidth]!, conv[row + g.outWidth + 1]!);
            });
            if (whole) expect(Array.from(out.subarray(1))).toEqual(Array.from(pooled));
          }
        });
      }
    }
  });

  describe("inference (pooling without arg-max) by Winograd's F(2×2, 5×5)", () => {
    const square = (n: number, c: number, h: number, w: number, o: number): Case => ({ n, c, h, w, o, groups: 1, k: [5, 5], s: [1, 1], p: [0, 0], d: [1, 1] });
    const geometries: [Case, string][] = [
      [square(3, 8, 12, 12, 16), "the reference network's second convolution"],
      [square(2, 5, 14, 12, 3), "odd channels, an odd number of output channels and 5 window rows (a partial group of tile vectors)"],
      [square(2, 4, 10, 20, 6), "two tile vectors per window row"],
      [square(1, 16, 20, 28, 8), "wide channels, six tile vectors per window row"],
      [square(2, 6, 11, 12, 4), "odd output height: not Winograd's, the direct kernel's"],
      [square(2, 3, 12, 12, 4), "3 input channels: not Winograd's"],
    ];
    for (const [t, what] of geometries) {
      for (const withBias of [true, false]) {
        it(`x=[${t.n},${t.c},${t.h},${t.w}] o=${t.o}${withBias ? "" : " without bias"}: ${what}`, () => {
          const g = geometry(t);
          const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth);
          const w = random(g.outChannels * g.inChannels * 25);
          const b = withBias ? random(g.outChannels) : null;
          const expected = pooledReference(g, x, w, b);
          const out = new Float32Array(expected.length + 1).fill(Number.NaN);
          const ok = conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, b === null ? null : { data: b, offset: 0 }, { data: out, offset: 1 }, { reluMaxPool2x2: true });
          expect(ok).toBe(true);
          expect(out[0]).toBeNaN();
          expectClose(out.subarray(1), expected, "pooled");
        });
      }
    }
  });
});
