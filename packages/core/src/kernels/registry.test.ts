import { afterAll, describe, expect, it } from "vitest";
import { ArgumentError, Tensor, describeKernels, kernelInfo, manualSeed, useKernels } from "../index.js";
import type { KernelInfo } from "../index.js";
import { KERNEL_BACKENDS, KernelFamily, kernelFamily, kernelsChanged, type KernelBackend } from "./registry.js";
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

describe("KernelFamily.resolve", () => {
  afterAll(() => useKernels("wasm"));

  it("takes the chosen backend, else the next slower one available, else the nearest faster one, for every choice and availability", () => {
    const up: Record<KernelBackend, boolean> = { wasm: true, js: true, reference: true };
    const family = new KernelFamily<string>("registry-test-order");
    for (const backend of KERNEL_BACKENDS) family.register(backend, `${backend} kernel`, { available: () => up[backend] });
    for (const choice of KERNEL_BACKENDS) {
      useKernels(choice);
      for (let mask = 0; mask < 8; mask++) {
        KERNEL_BACKENDS.forEach((b, i) => (up[b] = (mask & (1 << i)) !== 0));
        family.invalidate();
        const start = KERNEL_BACKENDS.indexOf(choice);
        // The rule as the registry states it, with the arrays it used to build on every call.
        const expected = [...KERNEL_BACKENDS.slice(start), ...KERNEL_BACKENDS.slice(0, start).reverse()].find((b) => up[b]);
        if (expected === undefined) {
          expect(() => family.resolve()).toThrow(ArgumentError);
          expect(() => family.resolve()).toThrow(/no implementation of "registry-test-order" is available here \(registered: wasm, js, reference\)/);
        } else {
          expect(family.resolve()).toEqual({ family: "registry-test-order", backend: expected, kernel: `${expected} kernel` });
        }
      }
    }
  });

  it("returns the same record for the same resolution, also after an override is installed and removed, and kernelInfo reports the same", () => {
    useKernels("js");
    const family = kernelFamily<(x: number) => number>("registry-test-records");
    const js = (x: number): number => x + 1;
    const recorder = (x: number): number => x + 2;
    family.register("js", js).register("reference", (x) => x + 1);
    const first = family.resolve();
    const info = kernelInfo();
    expect(first).toEqual({ family: "registry-test-records", backend: "js", kernel: js });
    expect(family.resolve()).toBe(first);
    // DataParallel's step: its recorder over the family, then the family as it was, every step.
    const customs = new Set<unknown>();
    for (let step = 0; step < 3; step++) {
      expect(family.override(recorder)).toBe(js);
      const custom = family.resolve();
      expect(custom).toEqual({ family: "registry-test-records", backend: "custom", kernel: recorder });
      expect(kernelInfo().families["registry-test-records"]).toEqual({ backend: "custom", threads: 1, available: ["js", "reference"] });
      customs.add(custom);
      expect(family.override(null)).toBe(recorder);
      expect(family.resolve()).toBe(first);
      kernelsChanged();
      expect(family.resolve()).toBe(first);
    }
    expect(customs.size).toBe(1);
    expect(kernelInfo()).toEqual(info);
    // Another override gets its own record; registering again replaces the entry's.
    const other = (x: number): number => x + 3;
    family.override(other);
    expect(family.resolve()).toEqual({ family: "registry-test-records", backend: "custom", kernel: other });
    family.override(null);
    const js2 = (x: number): number => x + 4;
    family.register("js", js2);
    expect(family.resolve()).toEqual({ family: "registry-test-records", backend: "js", kernel: js2 });
    expect(family.resolve()).not.toBe(first);
  });

  it("lets a kernel that was installed and taken away be collected (DataParallel's recorder holds the DataParallel)", async () => {
    const family = kernelFamily<(x: number) => number>("registry-test-records");
    let ref: WeakRef<object> | null = null;
    (() => {
      const kernel = (x: number): number => x + 5;
      ref = new WeakRef(kernel);
      family.override(kernel);
      expect(family.resolve().kernel).toBe(kernel);
      family.override(null);
    })();
    // A WeakRef keeps its target until the current job ends.
    await new Promise((resolve) => setTimeout(resolve, 0));
    (globalThis as { gc?: () => void }).gc!();
    expect(ref!.deref()).toBeUndefined();
  });
});
