import { afterEach, describe, expect, it } from "vitest";
import type { FloatArray } from "../dtype.js";
import { Generator } from "../random.js";
import { gemmPacked } from "./gemm-packed.js";
import { defaultGemm, gemm, gemmReference, setGemm, type Gemm, type MatrixView } from "./gemm.js";
import { gemmWasm } from "./wasm/gemm-wasm.js";
import { wasmAvailable } from "./wasm/engine.js";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
type CView = { data: FloatArray; offset: number; ld: number };

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  /** Element type of A, B and C (they may differ, as when matmul promotes float32 × float64). */
  types: [Ctor, Ctor, Ctor];
  /** Leading-dimension padding and offsets, so rows do not sit back to back. */
  padA: number;
  padB: number;
  padC: number;
  offA: number;
  offB: number;
  offC: number;
}

interface Operands {
  a: MatrixView;
  b: MatrixView;
  c: CView;
  /** Everything C's buffer holds before the call, padding and rows included. */
  c0: Float64Array;
}

/** Stored A is m×k, or k×m when read transposed; likewise B. Each buffer is filled at random, padding too. */
function operands(t: Case, rng: Generator): Operands {
  const fill = (ctor: Ctor, length: number): FloatArray => {
    const out = new ctor(length);
    for (let i = 0; i < length; i++) out[i] = rng.random() * 2 - 1;
    return out;
  };
  const [rowsA, colsA] = t.transA ? [t.k, t.m] : [t.m, t.k];
  const [rowsB, colsB] = t.transB ? [t.n, t.k] : [t.k, t.n];
  const ldA = colsA + t.padA;
  const ldB = colsB + t.padB;
  const ldC = t.n + t.padC;
  const a = { data: fill(t.types[0], t.offA + rowsA * ldA), offset: t.offA, ld: ldA, trans: t.transA };
  const b = { data: fill(t.types[1], t.offB + rowsB * ldB), offset: t.offB, ld: ldB, trans: t.transB };
  const cData = fill(t.types[2], t.offC + t.m * ldC + 3);
  // Without accumulate the old contents must be ignored, NaN included.
  if (!t.accumulate) for (let i = 0; i < t.m; i++) cData.fill(Number.NaN, t.offC + i * ldC, t.offC + i * ldC + t.n);
  return { a, b, c: { data: cData, offset: t.offC, ld: ldC }, c0: Float64Array.from(cData) };
}

/** The textbook triple loop in float64, with the bound on the rounding error each entry may carry. */
function naive(t: Case, { a, b, c, c0 }: Operands): { value: Float64Array; bound: Float64Array } {
  const eps = t.types.includes(Float32Array) ? 2 ** -24 : 2 ** -53;
  const value = new Float64Array(t.m * t.n);
  const bound = new Float64Array(t.m * t.n);
  for (let i = 0; i < t.m; i++) {
    for (let j = 0; j < t.n; j++) {
      let sum = t.accumulate ? c0[c.offset + i * c.ld + j]! : 0;
      let magnitude = Math.abs(sum);
      for (let p = 0; p < t.k; p++) {
        const av = a.data[a.offset + (a.trans ? p * a.ld + i : i * a.ld + p)]!;
        const bv = b.data[b.offset + (b.trans ? j * b.ld + p : p * b.ld + j)]!;
        sum += av * bv;
        magnitude += Math.abs(av * bv);
      }
      value[i * t.n + j] = sum;
      // Recursive summation of k + 1 terms in the working precision, plus the final rounding.
      bound[i * t.n + j] = 2 * (t.k + 2) * eps * magnitude + 1e-300;
    }
  }
  return { value, bound };
}

/** Runs `kernel` on a fresh copy of the operands and checks C entry by entry, and that nothing else moved. */
function check(kernel: Gemm, t: Case, seed: number): void {
  const ops = operands(t, new Generator(seed));
  const { value, bound } = naive(t, ops);
  kernel(t.m, t.n, t.k, ops.a, ops.b, ops.c, t.accumulate);
  const { data, offset, ld } = ops.c;
  const inside = new Uint8Array(data.length);
  for (let i = 0; i < t.m; i++) {
    for (let j = 0; j < t.n; j++) {
      const at = offset + i * ld + j;
      inside[at] = 1;
      const got = data[at]!;
      const want = value[i * t.n + j]!;
      if (!(Math.abs(got - want) <= bound[i * t.n + j]!)) {
        throw new Error(`${kernel.name} ${describeCase(t)}: C[${i}][${j}] = ${got}, expected ${want} ± ${bound[i * t.n + j]}`);
      }
    }
  }
  for (let q = 0; q < data.length; q++) {
    if (!inside[q] && !Object.is(data[q], ops.c0[q])) throw new Error(`${kernel.name} ${describeCase(t)}: wrote outside C at ${q}`);
  }
}

function describeCase(t: Case): string {
  const names = t.types.map((x) => (x === Float32Array ? "f32" : "f64")).join("/");
  return `m=${t.m} n=${t.n} k=${t.k} ${t.transA ? "Aᵀ" : "A"}·${t.transB ? "Bᵀ" : "B"} ${names} acc=${t.accumulate} pad=${t.padA},${t.padB},${t.padC} off=${t.offA},${t.offB},${t.offC}`;
}

function plain(m: number, n: number, k: number, ctor: Ctor, transA = false, transB = false, accumulate = false): Case {
  return { m, n, k, transA, transB, accumulate, types: [ctor, ctor, ctor], padA: 0, padB: 0, padC: 0, offA: 0, offB: 0, offC: 0 };
}

const kernels: Gemm[] = [gemmPacked, gemmReference];

describe("gemm kernels against the naive triple loop", () => {
  it("every combination of m, n, k in {0, 1, 3, 7}, transposes, dtype and accumulate", () => {
    let seed = 1;
    for (const ctor of [Float32Array, Float64Array]) {
      for (const m of [0, 1, 3, 7]) {
        for (const n of [0, 1, 3, 7]) {
          for (const k of [0, 1, 3, 7]) {
            for (const transA of [false, true]) {
              for (const transB of [false, true]) {
                for (const accumulate of [false, true]) {
                  for (const kernel of kernels) check(kernel, plain(m, n, k, ctor, transA, transB, accumulate), seed++);
                }
              }
            }
          }
        }
      }
    }
  });

  it("random odd shapes with offsets, padded rows, mixed dtypes and accumulate", () => {
    const rng = new Generator(2024);
    const sizes = [1, 3, 7, 17, 63, 129];
    const pick = <T>(xs: readonly T[]): T => xs[rng.randint(xs.length)]!;
    const ctors: Ctor[] = [Float32Array, Float64Array];
    for (let trial = 0; trial < 48; trial++) {
      const t: Case = {
        m: pick(sizes),
        n: pick(sizes),
        k: pick(sizes),
        transA: (trial & 1) === 1,
        transB: (trial & 2) === 2,
        accumulate: rng.random() < 0.5,
        types: trial % 8 < 4 ? [Float32Array, Float32Array, Float32Array] : [pick(ctors), pick(ctors), pick(ctors)],
        padA: pick([0, 1, 5]),
        padB: pick([0, 2, 7]),
        padC: pick([0, 3]),
        offA: rng.randint(9),
        offB: rng.randint(9),
        offC: rng.randint(9),
      };
      if (trial % 8 >= 4) t.types[2] = t.types.includes(Float64Array) ? Float64Array : Float32Array;
      for (const kernel of kernels) check(kernel, t, 100 + trial);
    }
  });

  it("blocks that cross the packed panel limits in k, m and n", () => {
    const cases: Case[] = [
      { ...plain(9, 6, 257, Float32Array), accumulate: true },
      { ...plain(5, 11, 600, Float64Array, true, true), padA: 3, offC: 2 },
      plain(131, 5, 300, Float32Array, false, true),
      { ...plain(3, 2100, 5, Float64Array, true, false), padB: 1 },
      { ...plain(2, 4100, 2, Float32Array, false, true), accumulate: true },
    ];
    cases.forEach((t, i) => {
      for (const kernel of kernels) check(kernel, t, 7000 + i);
    });
  });

  it("the reference-network products: conv as im2col GEMM, linear layers and their backward products", () => {
    const f = Float32Array;
    const cases: Case[] = [
      plain(2 * 24 * 24, 8, 25, f),
      plain(8, 25, 2 * 24 * 24, f, true, false),
      plain(2 * 8 * 8, 16, 200, f),
      plain(2 * 8 * 8, 200, 16, f, false, true),
      plain(16, 200, 2 * 8 * 8, f, true, false),
      plain(64, 120, 256, f, false, true),
      plain(120, 256, 64, f, true, false),
      plain(64, 10, 120, f, false, true),
    ];
    cases.forEach((t, i) => check(gemmPacked, t, 9000 + i));
  });
});

describe("signed zeros", () => {
  it("a sum of products that are all -0 is +0, as a sum that starts from 0 gives (full and edge tiles)", () => {
    for (const kernel of kernels) {
      for (const ctor of [Float32Array, Float64Array]) {
        const m = 5, n = 6, k = 3;
        const a = { data: new ctor(m * k), offset: 0, ld: k, trans: false };
        const b = { data: new ctor(k * n).fill(-1), offset: 0, ld: n, trans: false };
        const c = new ctor(m * n).fill(Number.NaN);
        kernel(m, n, k, a, b, { data: c, offset: 0, ld: n }, false);
        const negativeZeros = Array.from(c).filter((v) => Object.is(v, -0)).length;
        expect({ kernel: kernel.name, negativeZeros, values: Array.from(new Set(c)) }).toEqual({ kernel: kernel.name, negativeZeros: 0, values: [0] });
      }
    }
  });
});

describe("packed GEMM against the reference", () => {
  it("agrees with the reference within both kernels' float32 rounding on 129×63×129", () => {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const t = plain(129, 63, 129, Float32Array, transA, transB, true);
      const fast = operands(t, new Generator(5));
      const ref = operands(t, new Generator(5));
      const { bound } = naive(t, ref);
      gemmPacked(t.m, t.n, t.k, fast.a, fast.b, fast.c, true);
      gemmReference(t.m, t.n, t.k, ref.a, ref.b, ref.c, true);
      let outside = 0;
      for (let i = 0; i < t.m; i++) {
        for (let j = 0; j < t.n; j++) {
          const at = i * fast.c.ld + j;
          if (!(Math.abs(fast.c.data[at]! - ref.c.data[at]!) <= 2 * bound[i * t.n + j]!)) outside++;
        }
      }
      expect(outside).toBe(0);
    }
  });

  it("reuses its scratch across calls of different dtypes and sizes without stale data", () => {
    check(gemmPacked, plain(129, 129, 129, Float64Array, true, true, true), 31);
    check(gemmPacked, plain(2, 3, 1, Float32Array), 32);
    check(gemmPacked, plain(7, 5, 3, Float64Array, false, true, true), 33);
  });
});

describe("gemm switch", () => {
  const initial = setGemm(gemmPacked);
  afterEach(() => setGemm(initial));

  it("defaults to WebAssembly SIMD where it runs, and setGemm returns the kernel it replaces", () => {
    expect(initial).toBe(wasmAvailable() ? gemmWasm : gemmPacked);
    expect(defaultGemm()).toBe(initial);
    setGemm(gemmPacked);
    expect(setGemm(gemmReference)).toBe(gemmPacked);
    expect(setGemm(gemmPacked)).toBe(gemmReference);
  });

  it("routes gemm through the installed kernel", () => {
    const calls: number[] = [];
    setGemm((m, n, k, a, b, c, accumulate) => {
      calls.push(m * 100 + n * 10 + k);
      gemmReference(m, n, k, a, b, c, accumulate);
    });
    const c = new Float32Array(4);
    gemm(2, 2, 1, { data: Float32Array.of(1, 2), offset: 0, ld: 1, trans: false }, { data: Float32Array.of(3, 4), offset: 0, ld: 2, trans: false }, { data: c, offset: 0, ld: 2 }, false);
    expect(calls).toEqual([221]);
    expect(Array.from(c)).toEqual([3, 4, 6, 8]);
  });
});
