import { Generator, Tensor, kernels, tensor } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conv2dReluMaxPool2d } from "./conv2d-relu-max-pool2d.js";

// On the threads, a training forward of conv2dReluMaxPool2d whose input lives outside the threads' memory
// copies it into a resident array that its backward reads in place (inputCopy), instead of copying it in
// again. The same bits as the same call on an input that lives there (read in place by both passes).

const bits = (t: Tensor): number[] => Array.from(new Int32Array(Float32Array.from(t.toTypedArray() as Float32Array).buffer));

interface Run {
  y: number[];
  gw: number[];
  gb: number[];
}

function run(x: Tensor, seed: number, channels: number): Run {
  const w = Tensor.randn([8, channels, 5, 5], { generator: new Generator(seed), requiresGrad: true });
  const b = Tensor.randn([8], { generator: new Generator(seed + 1), requiresGrad: true });
  const y = conv2dReluMaxPool2d(x, w, b);
  const r = Tensor.randn(y.shape, { generator: new Generator(seed + 2) });
  y.mul(r).sum().backward();
  return { y: bits(y), gw: bits(w.grad!), gb: bits(b.grad!) };
}

describe("conv2dReluMaxPool2d on 2 threads: an outside input copied once for forward and backward", () => {
  beforeAll(async () => {
    expect(await enableThreads(2)).toBe(true);
  });
  afterAll(() => disableThreads());

  for (const [batch, channels, size] of [[64, 1, 28], [16, 3, 32], [5, 4, 20]] as const) {
    it(`x [${batch}, ${channels}, ${size}, ${size}]: output and gradients equal those from a resident x, bit for bit`, () => {
      const values = Tensor.randn([batch, channels, size, size], { generator: new Generator(batch) }).toTypedArray() as Float32Array;
      const outside = tensor(Float32Array.from(values), { shape: [batch, channels, size, size] });
      expect(kernels.conv2dWasmResident(outside.toTypedArray() as Float32Array)).toBe(false);
      const room = kernels.allocateUninitialized("float32", values.length) as Float32Array;
      room.set(values);
      const inside = tensor(room, { shape: [batch, channels, size, size] });
      // From 64 KiB on, arrays on the threads live in their memory: the smaller input is read as copied in at each call.
      expect(kernels.conv2dWasmResident(room)).toBe(values.length * 4 >= 1 << 16);
      const copied = run(outside, 3, channels);
      const inPlace = run(inside, 3, channels);
      expect(copied).toEqual(inPlace);
      // The input itself is left as it was.
      expect(Array.from(outside.toTypedArray())).toEqual(Array.from(values));
    });
  }
});
