import * as tf from "@tensorflow/tfjs-core";
import { Generator } from "@pico/core";
import { useTfjsBackend } from "./tfjs-setup.js";

export interface BackpropFilterCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: "valid" | "same";
}

/** The reference network's two filter gradients at batch 64, plus strided and 'same'-padded cases (stride 1 and 2). */
export const BACKPROP_FILTER_CASES: readonly BackpropFilterCase[] = [
  { x: [64, 28, 28, 1], filter: [5, 5, 1, 8], stride: 1, pad: "valid" },
  { x: [64, 12, 12, 8], filter: [5, 5, 8, 16], stride: 1, pad: "valid" },
  { x: [3, 9, 7, 2], filter: [3, 2, 2, 5], stride: 2, pad: "valid" },
  { x: [2, 8, 9, 3], filter: [3, 3, 3, 4], stride: 2, pad: "same" },
  { x: [2, 7, 6, 1], filter: [2, 3, 1, 2], stride: 1, pad: "same" },
];

function randomArray(gen: Generator, size: number, scale: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = gen.normal() * scale;
  return out;
}

function outSize(size: number, k: number, stride: number, pad: BackpropFilterCase["pad"]): number {
  if (pad === "same") return Math.ceil(size / stride);
  return Math.floor((size - k) / stride) + 1;
}

function backpropFilter(backendCase: BackpropFilterCase, x: Float32Array, dy: Float32Array, dyShape: number[]): Float32Array {
  return tf.tidy(() => {
    const out = tf.engine().runKernel(
      tf.Conv2DBackpropFilter,
      { x: tf.tensor4d(x, backendCase.x), dy: tf.tensor4d(dy, dyShape as [number, number, number, number]) },
      {
        strides: [backendCase.stride, backendCase.stride],
        pad: backendCase.pad,
        dataFormat: "NHWC",
        filterShape: backendCase.filter,
      } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
    return out.dataSync() as Float32Array;
  });
}

/**
 * Runs the registered wasm Conv2DBackpropFilter and the cpu backend's own on the same random inputs
 * and returns the largest absolute difference over all cases. Leaves the wasm backend selected.
 */
export async function checkWasmBackpropFilter(
  cases: readonly BackpropFilterCase[] = BACKPROP_FILTER_CASES,
  seed = 1234,
): Promise<{ maxAbsDiff: number; maxAbsValue: number; cases: number }> {
  const gen = new Generator(seed);
  const inputs = cases.map((c) => {
    const dyShape = [c.x[0], outSize(c.x[1], c.filter[0], c.stride, c.pad), outSize(c.x[2], c.filter[1], c.stride, c.pad), c.filter[3]];
    // Scaled so that each filter-gradient entry (a sum over N*OH*OW products) is of order 1.
    const terms = dyShape[0]! * dyShape[1]! * dyShape[2]!;
    return {
      c,
      dyShape,
      x: randomArray(gen, c.x.reduce((a, b) => a * b, 1), 1),
      dy: randomArray(gen, dyShape.reduce((a, b) => a * b, 1), 1 / Math.sqrt(terms)),
    };
  });
  await useTfjsBackend("cpu");
  const expected = inputs.map(({ c, x, dy, dyShape }) => backpropFilter(c, x, dy, dyShape));
  await useTfjsBackend("wasm");
  let maxAbsDiff = 0;
  let maxAbsValue = 0;
  inputs.forEach(({ c, x, dy, dyShape }, i) => {
    const got = backpropFilter(c, x, dy, dyShape);
    const want = expected[i]!;
    if (got.length !== want.length) {
      throw new Error(`Conv2DBackpropFilter check: wasm gave ${got.length} values, cpu ${want.length}, for x [${c.x.join(", ")}]`);
    }
    for (let j = 0; j < got.length; j++) {
      const diff = Math.abs(got[j]! - want[j]!);
      // NaN must fail the check, and Math.max would let a later finite value hide it.
      if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
      maxAbsValue = Math.max(maxAbsValue, Math.abs(want[j]!));
    }
  });
  return { maxAbsDiff, maxAbsValue, cases: cases.length };
}
