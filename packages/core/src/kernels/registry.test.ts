import { afterAll, describe, expect, it } from "vitest";
import { Tensor, manualSeed, useKernels } from "../index.js";
import { activeGemmKernel, gemmReference, setGemm } from "./gemm.js";
import { gemmPacked } from "./gemm-packed.js";
import { gemmWasm } from "./wasm/gemm-wasm.js";
import { wasmAvailable } from "./wasm/engine.js";

describe("useKernels", () => {
  const initial = activeGemmKernel();
  afterAll(() => setGemm(initial));

  it("switches the GEMM behind matmul, and every choice computes the same product and gradients", () => {
    manualSeed(3);
    const a = Tensor.randn([37, 29], { requiresGrad: true });
    const b = Tensor.randn([29, 41], { requiresGrad: true });
    const run = (): number[][] => {
      a.zeroGrad();
      b.zeroGrad();
      const out = a.matmul(b);
      out.sum().backward();
      return [Array.from(out.toTypedArray()), Array.from(a.grad!.toTypedArray()), Array.from(b.grad!.toTypedArray())];
    };
    expect(useKernels("reference")).toBe("reference");
    expect(activeGemmKernel()).toBe(gemmReference);
    const reference = run();
    expect(useKernels("js")).toBe("js");
    expect(activeGemmKernel()).toBe(gemmPacked);
    const js = run();
    const wasm = useKernels("wasm");
    expect(wasm).toBe(wasmAvailable() ? "wasm" : "js");
    expect(activeGemmKernel()).toBe(wasmAvailable() ? gemmWasm : gemmPacked);
    const fast = run();
    for (const result of [js, fast]) {
      result.forEach((values, i) => values.forEach((v, j) => expect(Math.abs(v - reference[i]![j]!)).toBeLessThan(1e-4 * (1 + Math.abs(reference[i]![j]!)))));
    }
  });

  it("names the choices it accepts", () => {
    expect(() => useKernels("gpu" as "js")).toThrow(/useKernels: choice must be "wasm", "js" or "reference", but got "gpu"/);
  });
});
