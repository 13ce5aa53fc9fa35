import { describe, expect, it } from "vitest";
import { wasmThreadsActive } from "@pico/core/threads";
import { activeGemmName, formatMatmulTable, MATMUL_SHAPES, runMatmulBench } from "./matmul.js";

describe("matmul bench", () => {
  it("covers the issue's headline shapes and the reference network's transposed backward products", () => {
    const dims = MATMUL_SHAPES.map((s) => `${s.m}x${s.n}x${s.k}${s.transA ? "T" : ""}${s.transB ? "t" : ""}`);
    expect(dims).toContain("256x256x256");
    expect(dims).toContain("4096x16x200");
    expect(dims).toContain("36864x8x25");
    expect(dims).toContain("8x25x36864T");
    expect(dims).toContain("64x120x256t");
    expect(new Set(dims).size).toBe(dims.length);
  });

  it("times Pico and tfjs-wasm on the same product and checks that they agree", async () => {
    const shapes = [
      { name: "odd, both transposed", m: 7, n: 5, k: 9, transA: true, transB: true },
      { name: "plain", m: 33, n: 17, k: 65, transA: false, transB: false },
    ];
    const results = await runMatmulBench({ shapes, rounds: 3, sampleMs: 2, warmupMs: 2 });
    expect(results.map((r) => r.name)).toEqual(shapes.map((s) => s.name));
    for (const r of results) {
      expect(r.flops).toBe(2 * r.m * r.n * r.k);
      expect(r.relativeDifference).toBeLessThan(1e-4);
      for (const system of ["pico", "pico-1-thread", "pico-reference", "tfjs-wasm"] as const) {
        expect(r.rounds[system]).toHaveLength(3);
        expect(Number.isFinite(r.gflops[system]) && r.gflops[system] > 0).toBe(true);
        expect(Number.isFinite(r.cpuGflops[system]) && r.cpuGflops[system] > 0).toBe(true);
      }
      expect(r.picoOverTfjs).toBeCloseTo(r.gflops.pico / r.gflops["tfjs-wasm"], 10);
      expect(r.picoOneThreadOverTfjs).toBeCloseTo(r.gflops["pico-1-thread"] / r.gflops["tfjs-wasm"], 10);
    }
    const table = formatMatmulTable(results).split("\n");
    expect(table).toHaveLength(3);
    expect(table[2]).toContain("33x17x65");
  });

  it("rejects a round count below one and a thread count below one", async () => {
    await expect(runMatmulBench({ rounds: 0, shapes: [] })).rejects.toThrow(/rounds must be an integer >= 1/);
    await expect(runMatmulBench({ threads: 0, shapes: [] })).rejects.toThrow(/threads must be an integer >= 1, but got 0/);
  });

  it("splits a product large enough across threads when asked, and stops them afterwards", async () => {
    const shapes = [{ name: "tall", m: 4096, n: 16, k: 200, transA: false, transB: false }];
    const results = await runMatmulBench({ shapes, rounds: 1, sampleMs: 2, warmupMs: 2, threads: 2 });
    expect(results[0]!.relativeDifference).toBeLessThan(1e-4);
    expect(wasmThreadsActive()).toBe(false);
  });

  it("names the kernel gemm dispatches to without changing it", () => {
    const before = activeGemmName();
    expect(before.length).toBeGreaterThan(0);
    expect(activeGemmName()).toBe(before);
  });
});
