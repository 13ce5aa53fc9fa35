import * as tf from "@tensorflow/tfjs-core";
import { Generator } from "@pico/core";
import { beforeAll, describe, expect, it } from "vitest";
import type { BackpropFilterCase } from "./check-backprop-filter.js";
import { checkWasmBackpropFilter } from "./check-backprop-filter.js";
import { useTfjsBackend } from "./tfjs-setup.js";

function randomCases(seed: number, count: number): BackpropFilterCase[] {
  const gen = new Generator(seed);
  const int = (lo: number, hi: number): number => lo + gen.randint(hi - lo + 1);
  return Array.from({ length: count }, (): BackpropFilterCase => {
    const kh = int(1, 4);
    const kw = int(1, 4);
    const inC = int(1, 4);
    return {
      x: [int(1, 4), int(kh, kh + 7), int(kw, kw + 7), inC],
      filter: [kh, kw, inC, int(1, 5)],
      stride: int(1, 3),
      pad: gen.random() < 0.5 ? "valid" : "same",
    };
  });
}

describe("Conv2DBackpropFilter registered for the wasm backend", () => {
  beforeAll(async () => {
    await useTfjsBackend("wasm");
  });

  it("matches the cpu backend on 12 random shapes (stride 1-3, valid and same padding)", async () => {
    const cases = randomCases(7, 12);
    const { maxAbsDiff, maxAbsValue } = await checkWasmBackpropFilter(cases, 11);
    expect(maxAbsValue).toBeGreaterThan(0.1);
    expect(maxAbsDiff).toBeLessThan(1e-5);
  });

  it("matches the cpu backend on the reference network's layers (batch 4)", async () => {
    const cases: BackpropFilterCase[] = [
      { x: [4, 28, 28, 1], filter: [5, 5, 1, 8], stride: 1, pad: "valid" },
      { x: [4, 12, 12, 8], filter: [5, 5, 8, 16], stride: 1, pad: "valid" },
    ];
    const { maxAbsDiff } = await checkWasmBackpropFilter(cases, 3);
    expect(maxAbsDiff).toBeLessThan(1e-5);
  });

  it("refuses NCHW with a message naming the kernel", async () => {
    await useTfjsBackend("wasm");
    const x = tf.zeros([1, 2, 5, 5]);
    const dy = tf.zeros([1, 4, 3, 3]);
    expect(() =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
        strides: [1, 1],
        pad: "valid",
        dataFormat: "NCHW",
        filterShape: [3, 3, 2, 4],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/Conv2DBackpropFilter \(wasm\): only dataFormat NHWC/);
  });
});
