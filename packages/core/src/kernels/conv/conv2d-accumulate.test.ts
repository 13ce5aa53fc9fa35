import { afterAll, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { Generator } from "../../random.js";
import { installWasmConvThreads, stopWasmConvThreads } from "../wasm/conv-wasm-threads.js";
import { conv2dGemmKernel } from "./conv2d.js";
import { conv2dBackwardWasm, conv2dWasmPath } from "./conv2d-wasm.js";
import type { Conv2dWasmGeometry } from "./conv2d-wasm.js";

useNodeWorkers();

// accumulateInput: the input gradient added into the array it is given (the autograd engine's running sum)
// as it leaves the kernel, with the bits of computing it apart and adding it after (sum + ∂, one add each).

const gen = new Generator(23);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** "array k at i" for the first element whose bits differ, else "same" (a cheap message where a deep diff of 10^5 elements is not). */
function firstDifference(a: Float32Array[], b: Float32Array[]): string {
  for (let k = 0; k < a.length; k++) {
    const [x, y] = [bits(a[k]!), bits(b[k]!)];
    if (x.length !== y.length) return `array ${k}: length ${x.length} vs ${y.length}`;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `array ${k} at ${i}: ${a[k]![i]} vs ${b[k]![i]}`;
  }
  return "same";
}

const geometry = (n: number, c: number, hw: number, o: number, k: number, stride: number, pad: number): Conv2dWasmGeometry => {
  const out = Math.floor((hw + 2 * pad - k) / stride) + 1;
  return {
    batch: n, inChannels: c, inHeight: hw, inWidth: hw, outChannels: o, groups: 1, kernelHeight: k, kernelWidth: k,
    strideHeight: stride, strideWidth: stride, padHeight: pad, padWidth: pad, dilationHeight: 1, dilationWidth: 1, outHeight: out, outWidth: out,
  };
};

const cases: [string, Conv2dWasmGeometry][] = [
  ["Winograd F(4×4, 3×3)", geometry(24, 16, 16, 16, 3, 1, 1)],
  ["im2col", geometry(8, 6, 11, 8, 5, 2, 2)],
];

/** The three gradients of one backward, the input gradient added into `sum` (a copy) where `accumulate`, else apart and then added. */
function gradients(g: Conv2dWasmGeometry, gy: Float32Array, x: Float32Array, w: Float32Array, sum: Float32Array, accumulate: boolean): Float32Array[] {
  const input = accumulate ? Float32Array.from(sum) : new Float32Array(sum.length);
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(g.outChannels);
  const grads = { input: { data: input, offset: 0 }, weight: { data: weight, offset: 0 }, bias: { data: bias, offset: 0 } };
  expect(conv2dBackwardWasm(g, { data: gy, offset: 0 }, { data: x, offset: 0 }, { data: w, offset: 0 }, grads, { accumulateInput: accumulate })).toBe(true);
  if (!accumulate) for (let i = 0; i < input.length; i++) input[i] = sum[i]! + input[i]!;
  return [input, weight, bias];
}

describe("conv2dBackwardWasm with accumulateInput", () => {
  afterAll(() => stopWasmConvThreads());

  for (const threads of [1, 2]) {
    for (const [name, g] of cases) {
      it(`${name}, ${threads} thread(s): adds the input gradient into the given one with the bits of adding it after; a NaN in gradOut (Winograd refused, im2col again) adds once`, async () => {
        if (threads === 2) expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
        expect(conv2dWasmPath(g) === "winograd3x3").toBe(name.startsWith("Winograd"));
        const inSize = g.batch * g.inChannels * g.inHeight * g.inWidth;
        const x = random(inSize);
        const w = random(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth);
        const gy = random(g.batch * g.outChannels * g.outHeight * g.outWidth);
        const sum = random(inSize);
        expect(firstDifference(gradients(g, gy, x, w, sum, true), gradients(g, gy, x, w, sum, false))).toBe("same");
        // A NaN in the last image's gradient: the Winograd way is refused after the other images' results are out.
        gy[gy.length - 1] = Number.NaN;
        const apart = gradients(g, gy, x, w, sum, false);
        expect(firstDifference(gradients(g, gy, x, w, sum, true), apart)).toBe("same");
        expect(apart[0]!.slice(0, g.inChannels * g.inHeight * g.inWidth).every(Number.isFinite)).toBe(true);
      });
    }
  }

  it("the TypeScript kernel adds apart: the bits of adding it after", () => {
    const g = cases[1]![1];
    const inSize = g.batch * g.inChannels * g.inHeight * g.inWidth;
    const [x, w, gy, sum] = [random(inSize), random(g.outChannels * g.inChannels * 25), random(g.batch * g.outChannels * g.outHeight * g.outWidth), random(inSize)];
    const run = (accumulate: boolean): Float32Array => {
      const input = accumulate ? Float32Array.from(sum) : new Float32Array(inSize);
      conv2dGemmKernel.backward(g, { chunk: 1, cols: null }, { data: gy, offset: 0 }, { data: w, offset: 0 }, { data: x, offset: 0 }, { input, weight: null, bias: null }, { accumulateInput: accumulate });
      if (!accumulate) for (let i = 0; i < inSize; i++) input[i] = sum[i]! + input[i]!;
      return input;
    };
    expect(firstDifference([run(true)], [run(false)])).toBe("same");
  });
});
