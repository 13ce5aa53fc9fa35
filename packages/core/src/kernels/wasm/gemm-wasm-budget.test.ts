import { afterEach, describe, expect, it } from "vitest";
import type { MatrixView } from "../gemm.js";
import { gemmWasm, setWasmGemmBudget, wasmGemmMemoryBytes } from "./gemm-wasm.js";
import { panelRows } from "./run-gemm.js";
import { checkGemm, packedLayout, TRANS } from "./test-utils/gemm-cases.js";

const MB = 1024 * 1024;
const view = (ld: number, trans: boolean): MatrixView => ({ data: new Float32Array(0), offset: 0, ld, trans });

describe("panelRows", () => {
  it("keeps the whole product when its operands fit the budget", () => {
    expect(panelRows(1000, 120, 256, view(256, false), view(120, false), 2 * MB)).toBe(1000);
  });

  it("cuts A and C into panels of MR-multiple rows whose operands fit, counting gappy operands double", () => {
    for (const [m, n, k, transA, budget] of [[5000, 100, 300, false, MB], [5000, 100, 300, true, MB], [20000, 10, 50, false, 256 * 1024]] as const) {
      const a = view(transA ? m : k, transA);
      const rows = panelRows(m, n, k, a, view(n, false), budget);
      expect(rows).toBeLessThan(m);
      expect(rows % 4).toBe(0);
      expect(k * n * 4 + rows * (2 * k + n) * 4).toBeLessThanOrEqual(budget);
      expect(k * n * 4 + (rows + 4) * (2 * k + n) * 4).toBeGreaterThan(budget);
    }
  });

  it("takes at least 64 rows at a time when B alone fills the budget", () => {
    expect(panelRows(1000, 512, 512, view(512, false), view(512, false), MB)).toBe(64);
    expect(panelRows(40, 512, 512, view(512, false), view(512, false), MB)).toBe(40);
  });
});

describe("gemmWasm under a memory budget", () => {
  afterEach(() => setWasmGemmBudget(16 * MB));

  it("runs a product larger than the budget in panels, matching gemmReference, and the module's memory stays small", () => {
    setWasmGemmBudget(256 * 1024);
    for (const [transA, transB] of TRANS) {
      for (const accumulate of [false, true]) {
        checkGemm(gemmWasm, { m: 1001, n: 37, k: 300, transA, transB, accumulate, layoutA: { offset: 3, pad: 2 }, layoutB: packedLayout, layoutC: { offset: 1, pad: 5 } });
      }
    }
    // Operands of ~1.4 MB went through 256 KB panels (plus the work area and the module's own data).
    const constrained = wasmGemmMemoryBytes();
    expect(constrained).toBeLessThan(MB);
    setWasmGemmBudget(64 * MB);
    checkGemm(gemmWasm, { m: 1001, n: 37, k: 300, transA: false, transB: false, accumulate: false, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
    expect(wasmGemmMemoryBytes()).toBeGreaterThan(constrained + MB);
  });
});
