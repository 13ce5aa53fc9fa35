import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Generator } from "../../random.js";
import { gemm, gemmReference, setGemm } from "../gemm.js";
import type { MatrixView } from "../gemm.js";
import { decodeBase64, gemmWasm, installWasmGemm, wasmAvailable } from "./gemm-wasm.js";

const rng = new Generator(7);
const SIZES = [1, 3, 7, 17, 63, 129, 300];
const SENTINEL = 12345;

interface Layout {
  offset: number;
  pad: number;
}

/** A rows×cols stored matrix inside a larger array: `offset` elements before it, `pad` extra per row; gaps hold SENTINEL. */
function stored<T extends Float32Array | Float64Array>(make: new (n: number) => T, rows: number, cols: number, { offset, pad }: Layout) {
  const ld = cols + pad;
  const data = new make(offset + rows * ld + 3).fill(SENTINEL);
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) data[offset + r * ld + q] = rng.random() * 2 - 1;
  return { data, offset, ld };
}

/** op(X)[i, j] of a MatrixView, read straight from the stored matrix. */
const at = (x: MatrixView, i: number, j: number): number => x.data[x.offset + (x.trans ? j * x.ld + i : i * x.ld + j)]!;

/** Exact-ish product in float64 and, per element, Σ|a·b| for an error bound. */
function naive(m: number, n: number, k: number, a: MatrixView, b: MatrixView) {
  const value = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const prod = at(a, i, p) * at(b, p, j);
        s += prod;
        t += Math.abs(prod);
      }
      value[i * n + j] = s;
      magnitude[i * n + j] = t;
    }
  }
  return { value, magnitude };
}

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  layoutA: Layout;
  layoutB: Layout;
  layoutC: Layout;
}

const packedLayout: Layout = { offset: 0, pad: 0 };

function runCase({ m, n, k, transA, transB, accumulate, layoutA, layoutB, layoutC }: Case): void {
  const label = `m=${m} n=${n} k=${k} transA=${transA} transB=${transB} accumulate=${accumulate} ` +
    `A=${JSON.stringify(layoutA)} B=${JSON.stringify(layoutB)} C=${JSON.stringify(layoutC)}`;
  const a: MatrixView = { ...stored(Float32Array, transA ? k : m, transA ? m : k, layoutA), trans: transA };
  const b: MatrixView = { ...stored(Float32Array, transB ? n : k, transB ? k : n, layoutB), trans: transB };
  const c = stored(Float32Array, m, n, layoutC);
  const before = c.data.slice();
  const cRef = { ...c, data: c.data.slice() };
  gemmWasm(m, n, k, a, b, c, accumulate);
  gemmReference(m, n, k, a, b, cRef, accumulate);
  const { value, magnitude } = naive(m, n, k, a, b);
  const eps = 2 ** -23;
  for (let idx = 0; idx < c.data.length; idx++) {
    const rel = idx - c.offset;
    const i = Math.floor(rel / c.ld);
    const j = rel - i * c.ld;
    const inside = rel >= 0 && i < m && j < n;
    if (!inside) {
      if (c.data[idx] !== before[idx]) throw new Error(`${label}: element ${idx} outside C changed to ${c.data[idx]}`);
      continue;
    }
    const base = accumulate ? before[idx]! : 0;
    const expected = base + value[i * n + j]!;
    const tol = 2 * (k + 2) * eps * (magnitude[i * n + j]! + Math.abs(base)) + 1e-30;
    const got = c.data[idx]!;
    if (!(Math.abs(got - expected) <= tol)) throw new Error(`${label}: C[${i}, ${j}] = ${got}, naive ${expected}, tolerance ${tol}`);
    if (!(Math.abs(got - cRef.data[idx]!) <= 2 * tol)) {
      throw new Error(`${label}: C[${i}, ${j}] = ${got}, gemmReference ${cRef.data[idx]}, tolerance ${2 * tol}`);
    }
  }
}

const pick = <T>(xs: readonly T[]): T => xs[rng.randint(xs.length)]!;
const TRANS: ReadonlyArray<readonly [boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

describe("gemmWasm", () => {
  afterEach(() => {
    setGemm(gemmReference);
    vi.unstubAllGlobals();
  });

  it("runs here (Node 20 has WebAssembly SIMD)", () => {
    expect(wasmAvailable()).toBe(true);
  });

  it("matches a naive triple loop and gemmReference on every small shape and transposition", () => {
    const small = [1, 3, 7, 17];
    for (const m of small) for (const n of small) for (const k of small) {
      for (const [transA, transB] of TRANS) {
        runCase({ m, n, k, transA, transB, accumulate: false, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
      }
    }
  });

  it("matches on random odd shapes up to 300, with offsets, padded rows and accumulation", () => {
    const layouts: Layout[] = [packedLayout, { offset: 5, pad: 3 }, { offset: 1, pad: 400 }];
    for (let t = 0; t < 60; t++) {
      const [transA, transB] = pick(TRANS);
      runCase({
        m: pick(SIZES), n: pick(SIZES), k: pick(SIZES), transA, transB,
        accumulate: rng.random() < 0.5,
        layoutA: pick(layouts), layoutB: pick(layouts), layoutC: pick(layouts),
      });
    }
  });

  it("covers the network's shapes: large m with narrow n, several depth blocks, and transposed gradients", () => {
    const cases: Array<[number, number, number]> = [[2305, 8, 25], [513, 16, 200], [64, 120, 256], [37, 10, 600], [9, 33, 1025]];
    for (const [m, n, k] of cases) {
      for (const [transA, transB] of TRANS) {
        for (const accumulate of [false, true]) {
          runCase({ m, n, k, transA, transB, accumulate, layoutA: packedLayout, layoutB: { offset: 2, pad: 1 }, layoutC: { offset: 3, pad: 5 } });
        }
      }
    }
  });

  it("handles zero sizes: nothing to do for m or n = 0, C zeroed (or kept when accumulating) for k = 0", () => {
    for (const [m, n, k] of [[0, 5, 4], [5, 0, 4], [0, 0, 0], [4, 5, 0]] as const) {
      for (const accumulate of [false, true]) {
        runCase({ m, n, k, transA: false, transB: false, accumulate, layoutA: packedLayout, layoutB: packedLayout, layoutC: { offset: 2, pad: 2 } });
      }
    }
    const c = { data: new Float32Array([1, 2, 3, 4]), offset: 0, ld: 2 };
    const empty: MatrixView = { data: new Float32Array(0), offset: 0, ld: 0, trans: false };
    gemmWasm(2, 2, 0, empty, empty, c, false);
    expect([...c.data]).toEqual([0, 0, 0, 0]);
  });

  it("sends float64 operands to the fallback kernel bit for bit", () => {
    const m = 17;
    const n = 7;
    const k = 63;
    const a: MatrixView = { ...stored(Float64Array, k, m, packedLayout), trans: true };
    const b: MatrixView = { ...stored(Float64Array, k, n, { offset: 4, pad: 2 }), trans: false };
    const c = stored(Float64Array, m, n, packedLayout);
    const cRef = { ...c, data: c.data.slice() };
    gemmWasm(m, n, k, a, b, c, true);
    gemmReference(m, n, k, a, b, cRef, true);
    expect(c.data).toEqual(cRef.data);
  });

  it("keeps its results correct after the memory grew for a larger product", () => {
    runCase({ m: 3, n: 5, k: 7, transA: false, transB: false, accumulate: true, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
    runCase({ m: 900, n: 64, k: 200, transA: true, transB: false, accumulate: false, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
    runCase({ m: 3, n: 5, k: 7, transA: false, transB: true, accumulate: true, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
  });

  it("installWasmGemm routes the core gemm through the wasm kernel", () => {
    expect(installWasmGemm()).toBe(true);
    const a: MatrixView = { data: new Float32Array([1, 2, 3, 4, 5, 6]), offset: 0, ld: 3, trans: false };
    const b: MatrixView = { data: new Float32Array([1, 0, 0, 1, 1, 1]), offset: 0, ld: 2, trans: false };
    const c = { data: new Float32Array(4), offset: 0, ld: 2 };
    gemm(2, 2, 3, a, b, c, false);
    expect([...c.data]).toEqual([4, 5, 10, 11]);
  });

  it("decodes base64 like Node's Buffer", () => {
    const bytes = Uint8Array.from({ length: 301 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const length of [0, 1, 2, 3, 4, 5, 300, 301]) {
      const slice = bytes.subarray(0, length);
      expect(decodeBase64(Buffer.from(slice).toString("base64"))).toEqual(slice);
    }
  });
});

describe("gemmWasm without WebAssembly SIMD", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  const check = async (): Promise<void> => {
    const fresh = await import("./gemm-wasm.js");
    expect(fresh.wasmAvailable()).toBe(false);
    expect(fresh.installWasmGemm()).toBe(false);
    const a: MatrixView = { data: new Float32Array([1, 2, 3, 4]), offset: 0, ld: 2, trans: true };
    const b: MatrixView = { data: new Float32Array([1, 1, 0, 1]), offset: 0, ld: 2, trans: false };
    const c = { data: new Float32Array(4), offset: 0, ld: 2 };
    fresh.gemmWasm(2, 2, 2, a, b, c, false);
    expect([...c.data]).toEqual([1, 4, 2, 6]);
  };

  it("reports unavailable and computes with the TypeScript kernel when WebAssembly is missing", async () => {
    vi.resetModules();
    vi.stubGlobal("WebAssembly", undefined);
    await check();
  });

  it("reports unavailable when the module does not compile (an engine without SIMD)", async () => {
    vi.resetModules();
    class Rejecting {
      constructor() {
        throw new Error("CompileError: invalid opcode 0xfd");
      }
    }
    vi.stubGlobal("WebAssembly", { Module: Rejecting, Instance: Rejecting });
    await check();
  });
});

describe("gemm-wasm-binary.ts", () => {
  it("is what scripts/build-wasm.mjs builds from assembly/gemm.ts", () => {
    const script = fileURLToPath(new URL("../../../scripts/build-wasm.mjs", import.meta.url));
    expect(() => execFileSync(process.execPath, [script, "--check"], { stdio: "pipe" })).not.toThrow();
  });
});
