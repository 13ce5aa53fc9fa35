import { describe, expect, it } from "vitest";
import type { SystemSummary } from "./report.js";
import { checkTargets } from "./targets.js";

function summary(system: string, train: number, infer: number, peakRss: number): SystemSummary {
  const stat = (v: number) => ({ median: v, min: v, max: v, rounds: [v] });
  return {
    system,
    runs: 1,
    trainImagesPerSec: stat(train),
    inferImagesPerSec: stat(infer),
    trainGflops: 0,
    inferGflops: 0,
    trainImagesPerCpuSec: stat(train),
    inferImagesPerCpuSec: stat(infer),
    trainCoresBusy: stat(1),
    peakRssMB: stat(peakRss),
    peakRssTrainMB: stat(peakRss),
    firstLoss: 2.3,
    lossAfterTraining: 2.2,
    trainSteps: { median: 8, min: 8, max: 8, rounds: [8] },
    inferCalls: { median: 5, min: 5, max: 5, rounds: [5] },
    inferCount: 256,
    info: {},
  };
}

describe("issue 11's targets", () => {
  it("compares pico 2t with torch 2t and tfjs-wasm, and 2 threads with one, on the CIFAR network", () => {
    const checks = checkTargets("cifar", [
      summary("pico 1t", 100, 250, 320),
      summary("pico 2t", 190, 300, 340),
      summary("tfjs-wasm", 18, 300, 780),
      summary("torch 1t", 290, 600, 480),
      summary("torch 2t", 550, 1000, 470),
    ]);
    const by = Object.fromEntries(checks.map((c) => [c.target, c]));
    expect(by["pico 2t / torch 2t, train"]!.value).toBeCloseTo(190 / 550, 10);
    expect(by["pico 2t / torch 2t, train"]!.met).toBe(false);
    expect(by["pico 2t / tfjs-wasm, train"]!.met).toBe(true);
    expect(by["pico 2t / tfjs-wasm, infer"]!.value).toBe(1);
    expect(by["pico 2t / pico 1t, train"]!.met).toBe(true);
    expect(by["pico 2t / pico 1t, infer"]!.met).toBe(false);
    expect(by["pico peak RSS / torch peak RSS"]!.value).toBeCloseTo(340 / 480, 10);
    expect(by["pico peak RSS / torch peak RSS"]!.met).toBe(true);
  });

  it("holds the reference network to the ratios over tfjs-wasm of before, and skips what was not run", () => {
    const checks = checkTargets("reference", [summary("pico 2t", 11_500, 75_000, 100), summary("tfjs-wasm", 2_000, 19_000, 200)]);
    expect(checks.map((c) => [c.target, c.goal, c.met])).toEqual([
      ["pico 2t / tfjs-wasm, train", 5.7, true],
      ["pico 2t / tfjs-wasm, infer", 4, false],
    ]);
  });

  it("holds the data-parallel run (pico dp2) to 1.8x one thread: training on the reference network, training and inference on cifar", () => {
    const checks = checkTargets("reference", [summary("pico 1t", 10_000, 60_000, 90), summary("pico 2t", 11_000, 80_000, 95), summary("pico dp2", 17_000, 90_000, 140)]);
    const by = Object.fromEntries(checks.map((c) => [c.target, c]));
    expect(by["pico dp2 / pico 1t, train"]!.value).toBeCloseTo(1.7, 10);
    expect(by["pico dp2 / pico 1t, train"]!.met).toBe(false);
    expect(by["pico 2t / pico 1t, train"]!.value).toBeCloseTo(1.1, 10);
    expect(by["pico dp2 / pico 1t, infer"]).toBeUndefined();
    const cifar = Object.fromEntries(checkTargets("cifar", [summary("pico 1t", 100, 250, 320), summary("pico dp2", 190, 400, 340)]).map((c) => [c.target, c]));
    expect(cifar["pico dp2 / pico 1t, train"]).toMatchObject({ value: 1.9, met: true });
    expect(cifar["pico dp2 / pico 1t, infer"]).toMatchObject({ value: 1.6, met: false });
  });
});
