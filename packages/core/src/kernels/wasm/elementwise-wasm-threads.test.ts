import { afterAll, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { Generator } from "../../random.js";
import { reluReference } from "../relu.js";
import { addReluWasm, maxPool2x2BackwardWasm, maxPool2x2Wasm, reluBackwardWasm, reluWasm } from "./elementwise-wasm.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./elementwise-wasm-threads.js";
import { wasmAvailable } from "./engine.js";

useNodeWorkers();

const gen = new Generator(11);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());

/** The first index where a and b differ (bit for bit), or -1: toEqual on arrays this long takes seconds. */
function firstDifference(a: Float32Array | Int32Array, b: Float32Array | Int32Array): number {
  const [x, y] = [new Int32Array(a.buffer, a.byteOffset, a.length), new Int32Array(b.buffer, b.byteOffset, b.length)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** 2×2 max pooling with stride 2, first maximum in scan order (no NaN in these inputs). */
function maxPoolReference(x: Float32Array, planes: number, H: number, W: number): { out: Float32Array; argmax: Int32Array } {
  const oH = H >> 1;
  const oW = W >> 1;
  const out = new Float32Array(planes * oH * oW);
  const argmax = new Int32Array(out.length);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oH; i++) {
      for (let j = 0; j < oW; j++) {
        let best = -Infinity;
        let at = -1;
        for (const [di, dj] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
          const index = p * H * W + (2 * i + di) * W + 2 * j + dj;
          if (x[index]! > best) [best, at] = [x[index]!, index];
        }
        out[(p * oH + i) * oW + j] = best;
        argmax[(p * oH + i) * oW + j] = at;
      }
    }
  }
  return { out, argmax };
}

// The calling thread copies each job's operands in while the workers start, and each result out as soon
// as its job is done; one table follows another without pause, so a worker still claiming from the
// last table meets the next (which once left a result marked undone, and the caller waiting forever).
describe.skipIf(!wasmAvailable())("elementwise kernels on 2 threads, staged, table after table", () => {
  afterAll(async () => {
    await stopWasmElementwiseThreads();
  });

  it("equal the reference on every call of 300 back to back", async () => {
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    const xs = random((1 << 15) + 5100);
    const bs = random(xs.length);
    for (let call = 0; call < 300; call++) {
      // Sizes above the threaded minimum (2^15), not multiples of the job alignment.
      const length = (1 << 15) + ((call * 7919) % 5000);
      const x = xs.slice(call % 97, call % 97 + length);
      const b = bs.slice(0, length);
      const y = new Float32Array(length);
      const expected = new Float32Array(length);
      expect(reluWasm(x, y)).toBe(true);
      reluReference.forward(x, expected);
      expect(firstDifference(y, expected)).toBe(-1);
      const dx = new Float32Array(length);
      expect(reluBackwardWasm(b, y, dx)).toBe(true);
      reluReference.backward(b, expected, expected);
      expect(firstDifference(dx, expected)).toBe(-1);
      expect(addReluWasm(x, b, y)).toBe(true);
      reluReference.addForward(x, b, expected);
      expect(firstDifference(y, expected)).toBe(-1);
    }
  });

  it("max pooling splits by planes and gives the reference's values and indices", async () => {
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    const [planes, H, W] = [67, 24, 26];
    for (let call = 0; call < 20; call++) {
      const x = random(planes * H * W);
      const out = new Float32Array(planes * (H >> 1) * (W >> 1));
      const argmax = new Int32Array(out.length);
      expect(maxPool2x2Wasm(x, out, argmax, planes, H, W, H >> 1, W >> 1)).toBe(true);
      const expected = maxPoolReference(x, planes, H, W);
      expect(firstDifference(out, expected.out)).toBe(-1);
      expect(firstDifference(argmax, expected.argmax)).toBe(-1);
    }
  });

  it("max pooling's backward splits by planes and gives the bits of the calling thread's kernel and of the reference scatter, on 2 and 3 threads, odd sizes included", async () => {
    await stopWasmElementwiseThreads();
    const [planes, H, W] = [67, 25, 27];
    const [oH, oW] = [H >> 1, W >> 1];
    const x = random(planes * H * W);
    const argmax = new Int32Array(planes * oH * oW);
    expect(maxPool2x2Wasm(x, new Float32Array(argmax.length), argmax, planes, H, W, oH, oW)).toBe(true);
    const gy = random(argmax.length);
    gy[3] = -0;
    // nn's scatter: gx zero-filled, then 0 + g at each window's arg-max.
    const scatter = new Float32Array(x.length);
    argmax.forEach((at, i) => (scatter[at] = scatter[at]! + gy[i]!));
    const one = new Float32Array(x.length).fill(7);
    expect(maxPool2x2BackwardWasm(gy, argmax, one, planes, H, W, oH, oW)).toBe(true);
    expect(firstDifference(one, scatter)).toBe(-1);
    for (const threads of [2, 3]) {
      expect(await installWasmElementwiseThreads({ threads })).toBe(true);
      for (let call = 0; call < 5; call++) {
        const gx = new Float32Array(x.length).fill(7);
        expect(maxPool2x2BackwardWasm(gy, argmax, gx, planes, H, W, oH, oW)).toBe(true);
        expect(firstDifference(gx, one)).toBe(-1);
      }
    }
  });
});
