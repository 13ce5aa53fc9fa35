import { Function as PicoFunction, tensor } from "@pico/core";
import { Linear, ReLU, Sequential } from "@pico/nn";
import { describe, expect, it } from "vitest";
import { OpProfiler } from "./op-profiler.js";

describe("OpProfiler", () => {
  it("times every operator call of a pass, forward and backward, per call site, and restores Function.apply", () => {
    const applyBefore = (PicoFunction as unknown as { apply: unknown }).apply;
    const model = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    const x = tensor(Float32Array.from({ length: 20 }, (_, i) => Math.sin(i)), { shape: [5, 4] });
    const profiler = new OpProfiler();
    profiler.install();
    const passMs: Array<{ forward: number; backward: number }> = [];
    try {
      for (let pass = 0; pass < 3; pass++) {
        profiler.beginPass();
        model.zeroGrad();
        model.forward(x).sum().backward();
        passMs.push(profiler.passMs);
      }
    } finally {
      profiler.uninstall();
    }
    const sites = profiler.recorded;
    expect(sites.map((s) => s.op)).toContain("Relu");
    expect(sites.at(-1)!.shape).toBe("");
    for (const s of sites) {
      expect(s.forwardMs).toHaveLength(3);
      expect(s.backwardMs).toHaveLength(3);
      for (const ms of [...s.forwardMs, ...s.backwardMs]) expect(ms).toBeGreaterThanOrEqual(0);
    }
    // A pass's operator time is the sum of its sites' times (passMs counts nested calls once, as the sites do).
    for (let pass = 0; pass < 3; pass++) {
      expect(passMs[pass]!.forward).toBeCloseTo(sites.reduce((a, s) => a + s.forwardMs[pass]!, 0), 9);
      expect(passMs[pass]!.backward).toBeCloseTo(sites.reduce((a, s) => a + s.backwardMs[pass]!, 0), 9);
    }
    const relu = sites.find((s) => s.op === "Relu")!;
    expect(relu.shape).toBe("5x3");
    expect((PicoFunction as unknown as { apply: unknown }).apply).toBe(applyBefore);
    // After uninstall nothing more is recorded.
    model.forward(x).sum().backward();
    expect(relu.forwardMs).toHaveLength(3);
  });

  it("refuses passes that run other operators than the first", () => {
    const profiler = new OpProfiler();
    profiler.install();
    try {
      const x = tensor(Float32Array.from([1, -2, 3]), { shape: [3], requiresGrad: true });
      profiler.beginPass();
      x.relu();
      profiler.beginPass();
      expect(() => x.exp()).toThrow(/operator call 0 of this pass is Exp 3, but in the first pass it was Relu 3/);
    } finally {
      profiler.uninstall();
    }
  });
});
