import { Tensor, kernels, tracer } from "@pico/core";
import { describe, expect, it, vi } from "vitest";
import { adaptiveMaxPool2d } from "../functional/adaptive-max-pool2d.js";
import { maxPool2d } from "../functional/max-pool2d.js";

describe("argmaxBuffer", () => {
  it("a pooling call's arg-max indices go back to the buffer pool when backward releases the call, and the next step reuses them", () => {
    const keep = vi.spyOn(tracer, "keepPrivate");
    try {
      const x = Tensor.randn([4, 8, 32, 32], { requiresGrad: true });
      maxPool2d(x, 2).sum().backward();
      const kept = keep.mock.calls.map((call) => call[1]!);
      expect(kept.map((a) => a.length)).toEqual([4 * 8 * 16 * 16]);
      // Backward released the call: the pool hands the same array out again.
      expect(kernels.allocate("float32", 4 * 8 * 16 * 16)).toBe(kept[0]);
    } finally {
      keep.mockRestore();
    }
  });

  it("is not zero-filled: every pooling kernel writes each index (max and adaptive max pooling, from a pool of NaN-filled arrays, give fresh arrays' bits)", () => {
    const x = Tensor.randn([4, 8, 32, 32], { requiresGrad: true });
    const gy = Tensor.randn([4, 8, 16, 16]);
    const poolings = [(t: Tensor) => maxPool2d(t, 2), (t: Tensor) => adaptiveMaxPool2d(t, [16, 16])];
    const run = (pool: (t: Tensor) => Tensor): number[] => {
      x.zeroGrad();
      pool(x).backward(gy);
      return Array.from(x.grad!.toTypedArray());
    };
    for (const pool of poolings) {
      const fresh = run(pool);
      const held = Array.from({ length: 3 }, () => kernels.allocate("float32", 4 * 8 * 16 * 16).fill(Number.NaN));
      for (const a of held) kernels.recycle(a);
      expect(run(pool)).toEqual(fresh);
    }
  });

  it("with retainGraph the indices stay, and a second backward gives the same gradient", () => {
    const x = Tensor.randn([2, 3, 64, 40], { requiresGrad: true });
    const y = maxPool2d(x, 2).sum();
    y.backward(undefined, { retainGraph: true });
    const first = Array.from(x.grad!.toTypedArray());
    for (let i = 0; i < 3; i++) kernels.allocate("float32", 2 * 3 * 32 * 20).fill(7);
    x.zeroGrad();
    y.backward();
    expect(Array.from(x.grad!.toTypedArray())).toEqual(first);
  });
});
