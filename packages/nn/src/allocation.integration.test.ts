import { getHeapStatistics } from "node:v8";
import { Generator, Tensor } from "@pico/core";
import { Adam } from "@pico/optim";
import { describe, expect, it } from "vitest";
import { CrossEntropyLoss } from "./index.js";
import { referenceCnn } from "./test-utils/reference-cnn.js";

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * JavaScript garbage per training step (bench/scripts/allocation-per-step.mjs measures it in detail; the
 * page's Workers collect it in pauses that stall a step). Bytes, not time: the used heap's growth over a
 * step that no collection interrupted (a collection makes it negative or leaves a step's garbage behind,
 * so the median of many steps is taken). The bound is generous, about 3x what a step allocates now, so
 * that only a regression of that order fails it (an object per element, a closure per inner loop).
 */
describe("JavaScript garbage per training step", () => {
  it("a reference-network training step (batch 8, Adam, gradients kept) allocates under 200 KB of JavaScript heap", () => {
    expect(gc, "run vitest with --expose-gc (see vitest.config.ts)").toBeTypeOf("function");
    const generator = new Generator(11);
    const model = referenceCnn(generator);
    const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
    const lossFn = new CrossEntropyLoss();
    const batch = 8;
    const x = Tensor.randn([batch, 1, 28, 28], { generator });
    const y = Tensor.zeros([batch]);
    for (let i = 0; i < batch; i++) y.data.data[i] = i % 10;
    const step = (): void => {
      optimizer.zeroGrad({ setToNone: false });
      lossFn.forward(model.forward(x), y).backward();
      optimizer.step();
    };
    // Until the functions called once a step are optimized, they box every number they compute.
    for (let i = 0; i < 300; i++) step();
    gc!();
    const growth: number[] = [];
    for (let i = 0; i < 61; i++) {
      const before = getHeapStatistics().used_heap_size;
      step();
      growth.push(getHeapStatistics().used_heap_size - before);
    }
    growth.sort((a, b) => a - b);
    const median = growth[30]!;
    // 482edb5 allocated ~113 KB per such step, 2c2b5d2 ~65 KB (allocation-per-step.mjs --batch 8 --warmup 300).
    expect(median, `median heap growth per step (bytes); sorted: ${growth.join(", ")}`).toBeLessThan(200 * 1024);
    expect(median).toBeGreaterThan(0);
  });
});
