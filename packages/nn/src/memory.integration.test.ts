import { Generator, Tensor, tracer } from "@pico/core";
import { Adam } from "@pico/optim";
import { describe, expect, it } from "vitest";
import { CrossEntropyLoss } from "./index.js";
import { referenceCnn } from "./test-utils/reference-cnn.js";

const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

describe("memory over a long training run", () => {
  it("2,000 training steps of the reference CNN keep tracer.stats() at its baseline and the heap flat", () => {
    expect(gc, "run vitest with --expose-gc (see vitest.config.ts)").toBeTypeOf("function");
    const generator = new Generator(5);
    const model = referenceCnn(generator);
    const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
    const lossFn = new CrossEntropyLoss();
    const batch = 4;
    const x = Tensor.zeros([batch, 1, 28, 28]);
    const y = Tensor.zeros([batch]);
    const step = (): void => {
      const xs = x.data.data;
      for (let i = 0; i < xs.length; i++) xs[i] = generator.normal();
      for (let i = 0; i < batch; i++) y.data.data[i] = generator.randint(10);
      optimizer.zeroGrad();
      const loss = lossFn.forward(model.forward(x), y);
      loss.backward();
      optimizer.step();
    };
    const baseline = tracer.stats();
    // Warm-up: optimizer state, JIT and any caches reach their steady size first.
    for (let i = 0; i < 100; i++) step();
    expect(tracer.stats()).toEqual(baseline);
    const heapStart = heapAfterGc();
    const samples: number[] = [];
    for (let i = 1; i <= 1900; i++) {
      step();
      if (i % 950 === 0) {
        expect(tracer.stats(), `tracer pools after ${100 + i} steps`).toEqual(baseline);
        samples.push(heapAfterGc());
      }
    }
    // A leak of one small tensor per step would already add several MB over 1,900 steps.
    for (const heap of samples) expect(heap - heapStart, `heap growth (bytes) from ${heapStart}`).toBeLessThan(2 * 1024 * 1024);
  });
});
