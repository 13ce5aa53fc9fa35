import { Generator, kernels } from "@pico/core";
import { describe, expect, it } from "vitest";
import { conv2dReluMaxPool2dBackward, conv2dReluMaxPool2dForward, imageColumnsSize } from "./conv2d-relu-max-pool2d.js";
import { pool2dGeometry } from "./pool-geometry.js";

function geometry(batch: number, inChannels: number, size: number, outChannels: number, groups: number, kernel: number, padding: number): kernels.Conv2dGeometry {
  const out = kernels.outputSize(size, kernel, 1, padding, 1);
  return {
    batch, inChannels, inHeight: size, inWidth: size, outChannels, groups, kernelHeight: kernel, kernelWidth: kernel,
    strideHeight: 1, strideWidth: 1, padHeight: padding, padWidth: padding, dilationHeight: 1, dilationWidth: 1, outHeight: out, outWidth: out,
  };
}

describe("conv2dReluMaxPool2dBackward", () => {
  for (const Array_ of [Float32Array, Float64Array]) {
    it(`recomputing the columns gives the same bits as keeping them (${Array_.name}, groups 2, padding 1)`, () => {
      const g = geometry(3, 4, 9, 6, 2, 3, 1);
      const pool = pool2dGeometry("test", [g.batch, g.outChannels, g.outHeight, g.outWidth], 2, { stride: 1 });
      const gen = new Generator(11);
      const fill = (n: number) => {
        const a = new Array_(n);
        for (let i = 0; i < n; i++) a[i] = gen.normal();
        return a;
      };
      const x = { data: fill(g.batch * g.inChannels * 81), offset: 0 };
      const w = { data: fill(g.outChannels * 2 * 9), offset: 0 };
      const b = { data: fill(g.outChannels), offset: 0 };
      const pooled = g.batch * g.outChannels * pool.outHeight * pool.outWidth;
      const gy = { data: fill(pooled), offset: 0 };
      const run = (keep: boolean) => {
        const out = new Array_(pooled);
        const argmax = new Int32Array(pooled);
        const cols = keep ? new Array_(g.batch * imageColumnsSize(g)) : null;
        conv2dReluMaxPool2dForward(x, w, b, g, pool, out, argmax, cols);
        const grads = { gx: new Array_(x.data.length), gw: new Array_(w.data.length), gb: new Array_(b.data.length) };
        conv2dReluMaxPool2dBackward(gy, argmax, w, x, g, pool, cols, grads.gx, grads.gw, grads.gb);
        return [out, argmax, grads.gx, grads.gw, grads.gb].map((a) => Array.from(a));
      };
      const kept = run(true);
      expect(kept[3]!.some((v) => v !== 0)).toBe(true);
      expect(run(false)).toEqual(kept);
    });
  }
});
