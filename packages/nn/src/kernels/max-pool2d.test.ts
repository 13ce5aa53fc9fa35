import { Generator } from "@pico/core";
import { describe, expect, it } from "vitest";
import { maxPool2dForward } from "./max-pool2d.js";
import { pool2dGeometry } from "./pool-geometry.js";

// Values that stress the float32 2×2 kernel's integer ordering: signed zeros, infinities, NaNs of
// both signs, denormals, ties, and ordinary numbers of both signs.
const specials = [0, -0, Infinity, -Infinity, Number.NaN, 1e-45, -1e-45, 1, -1, 2.5, -2.5, 3.4e38, -3.4e38];

function sample(n: number, seed: number, withNaN: boolean): Float32Array {
  const gen = new Generator(seed);
  const a = new Float32Array(n);
  const bits = new Int32Array(a.buffer);
  for (let i = 0; i < n; i++) {
    const r = gen.random();
    if (r < 0.4) a[i] = specials[gen.randint(specials.length)]!;
    else a[i] = Math.round(gen.normal() * 4) / 2;
    if (!withNaN && Number.isNaN(a[i])) a[i] = 0;
    if (withNaN && r > 0.98) bits[i] = 0xffc00000 | 0;
  }
  return a;
}

describe("maxPool2dForward float32 2×2 (branch-free) against the float64 comparisons", () => {
  for (const stride of [2, 1, [1, 2]] as const) {
    for (const withNaN of [false, true]) {
      it(`x=[3,2,7,9] k=2 s=${JSON.stringify(stride)}${withNaN ? " with NaNs of both signs" : ""}: same values (bits of ±0 included) and arg-max`, () => {
        const shape = [3, 2, 7, 9];
        const g = pool2dGeometry("test", shape, 2, { stride });
        const n = 3 * 2 * 7 * 9;
        const offset = 5;
        const x32 = new Float32Array(n + offset);
        x32.set(sample(n, withNaN ? 2 : 1, withNaN), offset);
        const x64 = Float64Array.from(x32);
        const size = g.batch * g.channels * g.outHeight * g.outWidth;
        const [out32, out64] = [new Float32Array(size), new Float64Array(size)];
        const [arg32, arg64] = [new Int32Array(size), new Int32Array(size)];
        maxPool2dForward({ data: x32, offset }, g, out32, arg32);
        maxPool2dForward({ data: x64, offset }, g, out64, arg64);
        const same = Array.from(out32).every((v, i) => Object.is(v, out64[i]) || (Number.isNaN(v) && Number.isNaN(out64[i])));
        expect(same).toBe(true);
        expect(Array.from(arg32)).toEqual(Array.from(arg64));
        const noIndex = new Float32Array(size);
        maxPool2dForward({ data: x32, offset }, g, noIndex, null);
        expect(new Int32Array(noIndex.buffer)).toEqual(new Int32Array(out32.buffer));
      });
    }
  }
});
