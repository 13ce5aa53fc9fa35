import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeGemmKernel, gemm } from "../gemm.js";
import { gemmPacked } from "../gemm-packed.js";
import type { MatrixView } from "../gemm.js";
import { kernelInfo, useKernels } from "../registry.js";
import { gemmWasm, gemmWasmLocal } from "./gemm-wasm.js";
import { gemmProductsThreaded, gemmWasmThreaded, installWasmGemmThreads, stopWasmGemmThreads, wasmThreadsActive } from "./gemm-wasm-threads.js";
import type { Product } from "./run-gemm.js";
import { checkGemm, packedLayout, pick, rng, SIZES, stored, TRANS } from "./test-utils/gemm-cases.js";
import type { Case, Layout } from "./test-utils/gemm-cases.js";
import { useNodeWorkers } from "../../node-worker-launcher.js";

useNodeWorkers();

const runCase = (c: Case): void => checkGemm(gemmWasmThreaded, c);

/** gemmProductsThreaded splits the products over the threads and leaves in every C the bits gemmWasmLocal (the calling thread alone) writes. */
function expectLocalBits(products: Product[]): void {
  const expected = products.map((p) => {
    const c = { ...p.c, data: p.c.data.slice() };
    gemmWasmLocal(p.m, p.n, p.k, p.a, p.b, c, p.accumulate);
    return c.data;
  });
  expect(gemmProductsThreaded(products)).toBe(true);
  products.forEach((p, i) => expect(p.c.data).toEqual(expected[i]));
}

describe("gemmWasmThreaded with 3 threads, every product split", () => {
  beforeAll(async () => {
    expect(await installWasmGemmThreads({ threads: 3, minFlops: 0 })).toBe(true);
  });
  afterAll(async () => {
    await stopWasmGemmThreads();
  });

  it("is what the core gemm runs, also after useKernels('wasm') (no silent single-threaded GEMM)", () => {
    expect(wasmThreadsActive()).toBe(true);
    const a: MatrixView = { data: new Float32Array([1, 2, 3, 4, 5, 6]), offset: 0, ld: 3, trans: false };
    const b: MatrixView = { data: new Float32Array([1, 0, 0, 1, 1, 1]), offset: 0, ld: 2, trans: false };
    const c = { data: new Float32Array(4), offset: 0, ld: 2 };
    gemm(2, 2, 3, a, b, c, false);
    expect([...c.data]).toEqual([4, 5, 10, 11]);
    expect(useKernels("wasm")).toBe("wasm");
    expect(activeGemmKernel()).toBe(gemmWasm);
    expect(kernelInfo().families["gemm"]).toEqual({ backend: "wasm", threads: 3, available: ["wasm", "js", "reference"] });
  });

  it("matches the references on random odd shapes, transpositions, layouts and accumulation", () => {
    const layouts: Layout[] = [packedLayout, { offset: 5, pad: 3 }, { offset: 1, pad: 400 }];
    for (let t = 0; t < 40; t++) {
      const [transA, transB] = pick(TRANS);
      runCase({
        m: pick(SIZES), n: pick(SIZES), k: pick(SIZES), transA, transB,
        accumulate: rng.random() < 0.5,
        layoutA: pick(layouts), layoutB: pick(layouts), layoutC: pick(layouts),
      });
    }
  });

  it("splits by rows for tall C, by columns for short wide C and by depth for small C, edges included", () => {
    const cases: Array<[number, number, number]> = [[2305, 8, 25], [25, 8, 3001], [9, 120, 256], [3, 67, 40], [100, 3, 50], [301, 129, 300], [9, 300, 700]];
    for (const [m, n, k] of cases) {
      for (const [transA, transB] of TRANS) {
        const accumulate = transA !== transB;
        runCase({ m, n, k, transA, transB, accumulate, layoutA: packedLayout, layoutB: { offset: 2, pad: 1 }, layoutC: { offset: 3, pad: 5 } });
      }
    }
  });

  it("runs independent products one job each, every C bit for bit the calling thread's product", () => {
    // A linear layer's gradients at batch 64 (256 -> 120): input gradient g·W and weight gradient gᵀ·x,
    // then odd shapes with gaps, transpositions and accumulation.
    const shapes: Array<[number, number, number, boolean, boolean, boolean]> = [
      [64, 256, 120, false, true, false],
      [120, 256, 64, true, false, false],
      [67, 129, 300, false, false, true],
      [300, 17, 129, true, true, true],
    ];
    const products: Product[] = shapes.map(([m, n, k, transA, transB, accumulate]) => {
      const a = stored(Float32Array, transA ? k : m, transA ? m : k, { offset: 3, pad: 2 });
      const b = stored(Float32Array, transB ? n : k, transB ? k : n, packedLayout);
      return { m, n, k, a: { ...a, trans: transA }, b: { ...b, trans: transB }, c: stored(Float32Array, m, n, { offset: 1, pad: 5 }), accumulate } as Product;
    });
    expectLocalBits(products);
    const tiny = products.map((p) => ({ ...p, m: 2, n: 2, k: 2 }));
    expect(gemmProductsThreaded(tiny)).toBe(false);
  });

  it("copies an operand two products read (a linear layer's g) in once, each product still the calling thread's bits", () => {
    // The reference network's first linear layer backward: g [64, 120] (ordinary memory), W [120, 256], x [64, 256].
    const f32 = (rows: number, cols: number) => {
      const s = stored(Float32Array, rows, cols, packedLayout);
      return { ...s, data: s.data as Float32Array };
    };
    const g = f32(64, 120);
    const w = f32(120, 256);
    const x = f32(64, 256);
    const products: Product[] = [
      { m: 64, n: 256, k: 120, a: { ...g, trans: false }, b: { ...w, trans: false }, c: f32(64, 256), accumulate: false },
      { m: 120, n: 256, k: 64, a: { ...g, trans: true }, b: { ...x, trans: false }, c: f32(120, 256), accumulate: false },
      // The same array at another offset is another matrix: copied apart.
      { m: 60, n: 256, k: 120, a: { ...g, offset: 4 * 120, trans: false }, b: { ...w, trans: false }, c: f32(60, 256), accumulate: true },
    ];
    expectLocalBits(products);
  });

  it("gives the calling thread's bits for products split by rows or columns, one after the other through the one job table", () => {
    // Row and column splits sum each element as one job would; the table is rewritten by every product, more jobs then fewer.
    const shapes: Array<[number, number, number, boolean, boolean, boolean]> = [
      [1000, 120, 256, false, false, false],
      [64, 120, 256, false, true, true],
      [9, 300, 700, true, false, false],
      [301, 129, 300, true, true, true],
      [64, 256, 120, false, false, false],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [m, n, k, transA, transB, accumulate] of shapes) {
        const a: MatrixView = { ...stored(Float32Array, transA ? k : m, transA ? m : k, { offset: 3, pad: 2 }), trans: transA };
        const b: MatrixView = { ...stored(Float32Array, transB ? n : k, transB ? k : n, packedLayout), trans: transB };
        const c = stored(Float32Array, m, n, { offset: 1, pad: 5 });
        const expected = { ...c, data: c.data.slice() };
        gemmWasmLocal(m, n, k, a, b, expected, accumulate);
        gemmWasmThreaded(m, n, k, a, b, c, accumulate);
        expect(c.data).toEqual(expected.data);
      }
    }
  });

  it("sends float64 operands to the fallback kernel (gemmPacked) bit for bit", () => {
    const a: MatrixView = { ...stored(Float64Array, 40, 33, packedLayout), trans: false };
    const b: MatrixView = { ...stored(Float64Array, 17, 33, packedLayout), trans: true };
    const c = stored(Float64Array, 40, 17, packedLayout);
    const cRef = { ...c, data: c.data.slice() };
    gemmWasmThreaded(40, 17, 33, a, b, c, false);
    gemmPacked(40, 17, 33, a, b, cRef, false);
    expect(c.data).toEqual(cRef.data);
  });
});

describe("gemmWasmThreaded after stopWasmGemmThreads", () => {
  it("runs on the calling thread", async () => {
    expect(await installWasmGemmThreads({ threads: 2, minFlops: 0 })).toBe(true);
    await stopWasmGemmThreads();
    expect(wasmThreadsActive()).toBe(false);
    expect(kernelInfo().families["gemm"]?.threads).toBe(1);
    checkGemm(gemmWasmThreaded, { m: 65, n: 33, k: 17, transA: true, transB: false, accumulate: true, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
  });

  it("rejects a thread count that is not a positive integer", async () => {
    await expect(installWasmGemmThreads({ threads: 0 })).rejects.toThrow(/threads must be an integer from 1 to 16, but got 0/);
  });
});
