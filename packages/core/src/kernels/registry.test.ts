import { afterAll, describe, expect, it } from "vitest";
import { Tensor, describeKernels, kernelInfo, manualSeed, useKernels } from "../index.js";
import type { KernelInfo } from "../index.js";
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

describe("describeKernels", () => {
  const info = (simd: boolean, relaxedSimd: boolean, threads: number): KernelInfo => ({
    choice: null,
    wasm: { simd, relaxedSimd },
    threads,
    families: {
      gemm: { backend: simd ? "wasm" : "js", threads, available: ["wasm", "js", "reference"] },
      conv2d: { backend: simd ? "wasm" : "js", threads, available: ["wasm", "js", "reference"] },
    },
  });

  it("reads the report as one line: backends, SIMD, threads and a shortfall against what was asked", () => {
    expect(describeKernels(info(true, true, 2), 2)).toBe("kernels: gemm wasm, conv2d wasm · WebAssembly SIMD (relaxed, FMA) · 2 threads");
    expect(describeKernels(info(true, false, 1), 4)).toBe("kernels: gemm wasm, conv2d wasm · WebAssembly SIMD · 1 thread (of 4 asked for)");
    expect(describeKernels(info(false, false, 1))).toBe("kernels: gemm js, conv2d js · no WebAssembly SIMD: TypeScript kernels · 1 thread");
  });

  it("describes the kernels running now by default", () => {
    const now = kernelInfo();
    expect(describeKernels()).toBe(describeKernels(now));
    expect(describeKernels()).toContain(`gemm ${now.families["gemm"]!.backend}`);
  });
});
