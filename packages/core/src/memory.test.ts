import { describe, expect, it } from "vitest";
import { Tensor, manualSeed, noGrad, tracer } from "./index.js";

const gc = (globalThis as { gc?: () => void }).gc;

/** Collects garbage and lets FinalizationRegistry callbacks (macrotasks) run. */
async function settle(): Promise<void> {
  for (let round = 0; round < 4; round++) {
    gc!();
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

describe("memory", () => {
  it("vitest runs with --expose-gc", () => {
    expect(typeof gc).toBe("function");
  });

  it("10,000 forward/backward steps keep tracer.stats() at baseline and the heap flat", async () => {
    manualSeed(1);
    const w = Tensor.randn([8, 4], { requiresGrad: true });
    const b = Tensor.zeros([4], { requiresGrad: true });
    const x = Tensor.randn([3, 8]);
    const step = (): void => {
      const loss = x.matmul(w).add(b).tanh().logSoftmax().mean().neg();
      loss.backward();
      noGrad(() => {
        w.data = w.sub(w.grad!.mul(0.01)).data;
      });
      w.zeroGrad();
      b.zeroGrad();
    };
    for (let i = 0; i < 500; i++) step();
    await settle();
    const stats = tracer.stats();
    const heap = heapUsed();
    for (let i = 0; i < 10_000; i++) {
      step();
      expect(tracer.stats().funcs).toBe(stats.funcs);
    }
    await settle();
    expect(tracer.stats()).toEqual(stats);
    // Each step allocates ~10 KB of tensors; keeping them would grow the heap by ~100 MB.
    expect(heapUsed() - heap).toBeLessThan(4 * 1024 * 1024);
  });

  it("10,000 forward passes dropped without backward do not grow the pools", async () => {
    const w = Tensor.randn([8, 4], { requiresGrad: true });
    const x = Tensor.randn([3, 8]);
    await settle();
    const before = tracer.stats();
    const heap = heapUsed();
    for (let i = 0; i < 10_000; i++) x.matmul(w).relu().sum();
    await settle();
    const after = tracer.stats();
    // The FinalizationRegistry may not have reported every dead call yet: allow a small remainder.
    expect(after.funcs - before.funcs).toBeLessThan(300);
    expect(after.tensors - before.tensors).toBeLessThan(300);
    expect(heapUsed() - heap).toBeLessThan(4 * 1024 * 1024);
  });

  it("a forward pass kept alive stays counted until it is dropped", async () => {
    await settle();
    const before = tracer.stats();
    let kept: Tensor | null = Tensor.ones([2], { requiresGrad: true }).mul(2).exp();
    await settle();
    expect(tracer.stats().funcs).toBe(before.funcs + 2);
    expect(kept.requiresGrad).toBe(true);
    kept = null;
    await settle();
    expect(tracer.stats()).toEqual(before);
  });

  it("counts the distinct tensors of the live calls, leaves included, not one per call", () => {
    const before = tracer.stats();
    const x = Tensor.ones([2], { requiresGrad: true });
    const w = Tensor.ones([2], { requiresGrad: true });
    const y = x.mul(w);
    expect(tracer.stats()).toEqual({ tensors: before.tensors + 3, funcs: before.funcs + 1 });
    const z = y.mul(y).add(x).sum();
    // y·y, + x, sum: three more calls, and three more tensors (y·y, the sum of it and x, z); y and x count once.
    expect(tracer.stats()).toEqual({ tensors: before.tensors + 6, funcs: before.funcs + 4 });
    z.backward();
    expect(tracer.stats()).toEqual(before);
  });

  it("nothing is recorded under noGrad, however many steps", () => {
    const w = Tensor.randn([8, 4], { requiresGrad: true });
    const before = tracer.stats();
    noGrad(() => {
      for (let i = 0; i < 1000; i++) Tensor.ones([2, 8]).matmul(w).relu().sum();
    });
    expect(tracer.stats()).toEqual(before);
  });
});
