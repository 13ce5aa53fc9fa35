import { describe, expect, it, vi } from "vitest";
import { optimizerJs, optimizerKernels, optimizerWasm, type AdamHyper, type SgdHyper } from "./optimizer.js";
import { wasmAvailable } from "./wasm/engine.js";
import { adamUpdateWasm, sgdUpdateWasm } from "./wasm/optimizer-wasm.js";

// The module's entry points, watched (still running) so that a test can tell which kernel took a call.
vi.mock("./wasm/optimizer-wasm.js", async (original) => {
  const actual = await original<typeof import("./wasm/optimizer-wasm.js")>();
  return { ...actual, sgdUpdateWasm: vi.fn(actual.sgdUpdateWasm), adamUpdateWasm: vi.fn(actual.adamUpdateWasm) };
});

// The TypeScript loops run their usual cases (momentum after the first step; Adam without coupled decay,
// amsgrad or maximize) as loops of their own: each must give the bits of the formula written out element
// by element. The WebAssembly kernel must give the loops' bits for every option, over values that include
// NaN, infinities, -0 and subnormals, lengths that are not a multiple of 4 and span several blocks, and
// arrays that are views into larger buffers.

const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1e-40, -3e-39];

type Floats = Float32Array | Float64Array;

function values(length: number, seed: number, Array: Float32ArrayConstructor | Float64ArrayConstructor): Floats {
  const out = new Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 11 === 3 ? SPECIAL[(i + seed) % SPECIAL.length]! : Math.sin(i * 1.7 + seed) * (1 + (i % 5));
  return out;
}

function sgdFormula(p: Floats, g: Floats, buf: Floats, h: SgdHyper): void {
  for (let i = 0; i < p.length; i++) {
    buf[i] = h.momentum * buf[i]! + (1 - h.dampening) * g[i]!;
    p[i] = p[i]! - h.lr * buf[i]!;
  }
}

function adamFormula(p: Floats, g: Floats, m: Floats, v: Floats, step: number, h: AdamHyper, decoupled: boolean): void {
  const [beta1, beta2] = h.betas;
  const shrink = decoupled ? 1 - h.lr * h.weightDecay : 1;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! * shrink;
    m[i] = m[i]! + (1 - beta1) * (g[i]! - m[i]!);
    v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! * g[i]!;
    p[i] = pi - ((h.lr / (1 - beta1 ** step)) * m[i]!) / (Math.sqrt(v[i]!) * (1 / Math.sqrt(1 - beta2 ** step)) + h.eps);
  }
}

/** The first index where a and b differ in value, -0 against 0 included (any NaN equals any NaN), or -1. */
function firstDifference(a: Floats, b: Floats): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function expectSameBits(actual: Floats, expected: Floats): void {
  expect(firstDifference(actual, expected)).toBe(-1);
}

describe.each([Float32Array, Float64Array])("the TypeScript loops on %o", (Array) => {
  const length = 203;

  it("SGD with momentum after the first step: buf = μ·buf + g, p -= lr·buf, bit for bit", () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    const [p, g, buf] = [values(length, 1, Array), values(length, 2, Array), values(length, 3, Array)];
    const [p2, buf2] = [p.slice(), buf.slice()];
    optimizerJs.sgd(p, g, buf, false, h);
    sgdFormula(p2, g, buf2, h);
    expectSameBits(p, p2);
    expectSameBits(buf, buf2);
  });

  it.each([false, true])("Adam (decoupled decay %s): m, v and p bit for bit", (decoupled) => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: decoupled ? 0.01 : 0, amsgrad: false, maximize: false };
    const [p, g, m] = [values(length, 4, Array), values(length, 5, Array), values(length, 6, Array)];
    const v = values(length, 7, Array).map(Math.abs);
    const [p2, m2, v2] = [p.slice(), m.slice(), v.slice()];
    optimizerJs.adam(p, g, m, v, null, 7, h, decoupled);
    adamFormula(p2, g, m2, v2, 7, h, decoupled);
    expectSameBits(p, p2);
    expectSameBits(m, m2);
    expectSameBits(v, v2);
  });
});

/** A Float32Array of `length` values seen through a view that starts 3 floats into a larger buffer. */
function view(length: number, seed: number): Float32Array {
  const backing = new Float32Array(length + 7);
  backing.set(values(length, seed, Float32Array), 3);
  return backing.subarray(3, 3 + length);
}

describe.skipIf(!wasmAvailable())("the WebAssembly kernel on float32", () => {
  // 8192 floats are one block: 8,195 spans two, the second of 3 floats; 20,003 spans three, the last
  // partial and not a multiple of 4. Below 1,024 floats the loops run (tested below).
  const lengths = [1_027, 8_195, 20_003];

  const sgdCases: [string, Partial<SgdHyper>][] = [
    ["plain", {}],
    ["weight decay", { weightDecay: 0.05 }],
    ["maximize, weight decay", { maximize: true, weightDecay: 0.1 }],
    ["momentum", { momentum: 0.9 }],
    ["momentum, dampening", { momentum: 0.9, dampening: 0.3 }],
    ["nesterov, weight decay", { momentum: 0.8, nesterov: true, weightDecay: 0.1 }],
    ["momentum, maximize, dampening", { momentum: 0.5, maximize: true, dampening: 0.2 }],
  ];
  describe.each(sgdCases)("SGD, %s", (_, options) => {
    const h: SgdHyper = { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false, ...options };
    it.each(lengths.flatMap((n) => [[n, true], [n, false]] as [number, boolean][]))("%i elements, first step %s: p and buf bit for bit", (n, first) => {
      const [p, g, buf] = [view(n, 1), view(n, 2), h.momentum === 0 ? null : view(n, 3)];
      const [p2, buf2] = [p.slice(), buf?.slice() ?? null];
      optimizerWasm.sgd(p, g, buf, first, h);
      optimizerJs.sgd(p2, g, buf2, first, h);
      expectSameBits(p, p2);
      if (buf !== null) expectSameBits(buf, buf2!);
    });
  });

  const adamCases: [string, Partial<AdamHyper>, boolean][] = [
    ["Adam", {}, false],
    ["Adam, coupled decay", { weightDecay: 0.1 }, false],
    ["Adam, amsgrad, maximize, decay", { amsgrad: true, maximize: true, weightDecay: 0.05, betas: [0.8, 0.95] }, false],
    ["AdamW", { weightDecay: 0.01 }, true],
    ["AdamW, amsgrad, eps 1e-3", { weightDecay: 0.1, amsgrad: true, eps: 1e-3 }, true],
  ];
  describe.each(adamCases)("%s", (_, options, decoupled) => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options };
    it.each(lengths)("%i elements: p, m, v (and vmax) bit for bit", (n) => {
      const [p, g, m] = [view(n, 4), view(n, 5), view(n, 6)];
      const v = view(n, 7).map(Math.abs);
      const vmax = h.amsgrad ? view(n, 8).map((x, i) => (i % 3 === 0 ? Math.abs(x) : x)) : null;
      const [p2, m2, v2, vmax2] = [p.slice(), m.slice(), v.slice(), vmax?.slice() ?? null];
      optimizerWasm.adam(p, g, m, v, vmax, 5, h, decoupled);
      optimizerJs.adam(p2, g, m2, v2, vmax2, 5, h, decoupled);
      expectSameBits(p, p2);
      expectSameBits(m, m2);
      expectSameBits(v, v2);
      if (vmax !== null) expectSameBits(vmax, vmax2!);
    });
  });

  it("leaves the elements around a view unchanged", () => {
    const backing = new Float32Array(1040).fill(7);
    const p = backing.subarray(2, 1033);
    optimizerWasm.sgd(p, new Float32Array(1031).fill(1), null, false, { lr: 0.5, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
    expect(Array.from(backing)).toEqual([7, 7, ...new Array(1031).fill(6.5), 7, 7, 7, 7, 7, 7, 7]);
  });

  it("a parameter under 1,024 elements goes to the loops, from 1,024 on to the module, with the loops' bits", () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0.01, maximize: false };
    for (const [n, module] of [[203, false], [1023, false], [1024, true]] as const) {
      vi.mocked(sgdUpdateWasm).mockClear();
      const [p, g, buf] = [view(n, 1), view(n, 2), view(n, 3)];
      const [p2, buf2] = [p.slice(), buf.slice()];
      optimizerWasm.sgd(p, g, buf, false, h);
      optimizerJs.sgd(p2, g, buf2, false, h);
      expect(vi.mocked(sgdUpdateWasm).mock.calls.length).toBe(module ? 1 : 0);
      expectSameBits(p, p2);
      expectSameBits(buf, buf2);
    }
  });

  it("float64 goes to the TypeScript loops", () => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    const [p, g, m, v] = [values(9, 1, Float64Array), values(9, 2, Float64Array), values(9, 3, Float64Array), values(9, 4, Float64Array).map(Math.abs)];
    const [p2, m2, v2] = [p.slice(), m.slice(), v.slice()];
    vi.mocked(adamUpdateWasm).mockClear();
    optimizerWasm.adam(p, g, m, v, null, 3, h, false);
    optimizerJs.adam(p2, g, m2, v2, null, 3, h, false);
    expect(vi.mocked(adamUpdateWasm)).not.toHaveBeenCalled();
    expectSameBits(p, p2);
    expectSameBits(m, m2);
    expectSameBits(v, v2);
  });

  it("is the family's default", () => {
    expect(optimizerKernels.resolve().backend).toBe("wasm");
  });
});
