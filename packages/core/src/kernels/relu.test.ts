import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Generator } from "../random.js";
import { reluBits, reluReference, reluWasmKernel } from "./relu.js";
import type { ReluKernel } from "./relu.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./wasm/elementwise-wasm-threads.js";
import { wasmAvailable } from "./wasm/engine.js";
import { useNodeWorkers } from "../node-worker-launcher.js";

useNodeWorkers();

// Every ReLU kernel must equal the reference bit for bit, special values included (NaN payloads aside).
const gen = new Generator(5);
const bitsOf = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);
const SPECIAL = [0, -0, NaN, -NaN, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, 1, -1];

function values(length: number): Float32Array {
  const a = Float32Array.from({ length }, () => gen.normal());
  for (let i = 0; i < length; i += 7) a[i] = SPECIAL[(i / 7) % SPECIAL.length]!;
  // NaNs with the sign bit set and a signalling payload, which relu must keep as they are.
  for (let i = 3; i < length; i += 11) bitsOf(a)[i] = i % 2 === 0 ? 0xffc00000 | 0 : 0x7f800001;
  return a;
}

function expectSameBits(actual: Float32Array, expected: Float32Array, label: string): void {
  const [a, e] = [bitsOf(actual), bitsOf(expected)];
  // Any NaN meets any NaN: the reference's plain loop goes through JavaScript numbers, which need not keep a payload.
  for (let i = 0; i < e.length; i++) if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) throw new Error(`${label}[${i}]: ${actual[i]} (0x${(a[i]! >>> 0).toString(16)}) vs reference ${expected[i]}`);
}

function compare(kernel: ReluKernel, length: number): void {
  const x = values(length);
  const b = values(length);
  const g = values(length);
  const run = (k: ReluKernel) => {
    const y = new Float32Array(length);
    const dx = new Float32Array(length);
    const sum = new Float32Array(length);
    expect(k.forward(x, y)).toBe(true);
    expect(k.backward(g, y, dx)).toBe(true);
    expect(k.addForward(x, b, sum)).toBe(true);
    // In place: the output may be the input.
    const inPlace = x.slice();
    expect(k.forward(inPlace, inPlace)).toBe(true);
    const [intoA, intoB] = [x.slice(), b.slice()];
    expect(k.addForward(intoA, b, intoA)).toBe(true);
    expect(k.addForward(x, intoB, intoB)).toBe(true);
    return { y, dx, sum, inPlace, intoA, intoB };
  };
  const want = run(reluReference);
  const got = run(kernel);
  expectSameBits(got.y, want.y, "forward");
  expectSameBits(got.dx, want.dx, "backward");
  expectSameBits(got.sum, want.sum, "addForward");
  expectSameBits(got.inPlace, want.y, "forward in place");
  expectSameBits(got.intoA, want.sum, "addForward into a");
  expectSameBits(got.intoB, want.sum, "addForward into b");
}

describe("relu kernels against the reference, bit for bit", () => {
  it("the reference is PyTorch's: v < 0 ? 0 : v (NaN and −0 kept), and the gradient except where the output is <= 0", () => {
    const y = new Float32Array(5);
    reluReference.forward(Float32Array.of(-2, 3, NaN, -0, -Infinity), y);
    expect(Array.from(y)).toEqual([0, 3, NaN, -0, 0]);
    expect(Object.is(y[3], -0)).toBe(true);
    const dx = new Float32Array(5);
    reluReference.backward(Float32Array.of(5, 6, 7, 8, 9), y, dx);
    expect(Array.from(dx)).toEqual([0, 6, 7, 0, 0]);
  });
  for (const length of [1, 5, 64, 1001]) it(`js (bit patterns), length ${length}`, () => compare(reluBits, length));
  for (const length of [1, 5, 64, 1001, 70001]) it.skipIf(!wasmAvailable())(`wasm, length ${length}`, () => compare(reluWasmKernel, length));
});

// With the threads started the calls run on the calling thread's instance over the threads' shared memory.
describe.skipIf(!wasmAvailable())("relu kernels: wasm with 2 threads started, against the reference", () => {
  beforeAll(async () => {
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
  });
  afterAll(async () => {
    await stopWasmElementwiseThreads();
  });
  for (const length of [40000, 100003]) it(`length ${length}`, () => compare(reluWasmKernel, length));
});
