import { afterEach, describe, expect, it, vi } from "vitest";
import { gemm, setGemm } from "../gemm.js";
import { gemmPacked } from "../gemm-packed.js";
import type { MatrixView } from "../gemm.js";
import { useKernels } from "../registry.js";
import { wasmAvailable } from "./engine.js";
import { gemmWasm } from "./gemm-wasm.js";
import { decodeBase64 } from "./wasm-api.js";
import { checkGemm, packedLayout, pick, rng, SIZES, stored, TRANS } from "./test-utils/gemm-cases.js";
import type { Case, Layout } from "./test-utils/gemm-cases.js";

const runCase = (c: Case): void => checkGemm(gemmWasm, c);

describe("gemmWasm", () => {
  afterEach(() => {
    setGemm(gemmPacked);
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

  it("packs a short product's B whose rows alias in the L1 sets (4 KiB apart) and reads other B in place", () => {
    for (const [m, n, k, pad] of [[8, 1024, 25, 0], [5, 1000, 19, 24], [13, 2048, 300, 0], [8, 576, 25, 0], [3, 300, 260, 700]] as const) {
      for (const accumulate of [false, true]) {
        runCase({ m, n, k, transA: false, transB: false, accumulate, layoutA: packedLayout, layoutB: { offset: 1, pad }, layoutC: packedLayout });
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

  it("sends float64 operands to the fallback kernel (gemmPacked) bit for bit", () => {
    const m = 17;
    const n = 7;
    const k = 63;
    const a: MatrixView = { ...stored(Float64Array, k, m, packedLayout), trans: true };
    const b: MatrixView = { ...stored(Float64Array, k, n, { offset: 4, pad: 2 }), trans: false };
    const c = stored(Float64Array, m, n, packedLayout);
    const cRef = { ...c, data: c.data.slice() };
    gemmWasm(m, n, k, a, b, c, true);
    gemmPacked(m, n, k, a, b, cRef, true);
    expect(c.data).toEqual(cRef.data);
  });

  it("keeps its results correct after the memory grew for a larger product", () => {
    runCase({ m: 3, n: 5, k: 7, transA: false, transB: false, accumulate: true, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
    runCase({ m: 900, n: 64, k: 200, transA: true, transB: false, accumulate: false, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
    runCase({ m: 3, n: 5, k: 7, transA: false, transB: true, accumulate: true, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
  });

  it("useKernels('wasm') routes the core gemm through the wasm kernel", () => {
    expect(useKernels("wasm")).toBe("wasm");
    const a: MatrixView = { data: new Float32Array([1, 2, 3, 4, 5, 6]), offset: 0, ld: 3, trans: false };
    const b: MatrixView = { data: new Float32Array([1, 0, 0, 1, 1, 1]), offset: 0, ld: 2, trans: false };
    const c = { data: new Float32Array(4), offset: 0, ld: 2 };
    gemm(2, 2, 3, a, b, c, false);
    expect([...c.data]).toEqual([4, 5, 10, 11]);
    expect(setGemm(gemmPacked)).toBe(gemmWasm);
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
    const registry = await import("../registry.js");
    expect((await import("./engine.js")).wasmAvailable()).toBe(false);
    await import("../gemm.js");
    expect(registry.useKernels("wasm")).toBe("js");
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
