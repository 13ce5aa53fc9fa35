import { describe, expect, it } from "vitest";
import { Generator } from "../../random.js";
import { bumpVersion } from "../../version.js";
import { conv2dForwardWasm, type Conv2dWasmForwardOptions } from "./conv2d-wasm.js";
import type { Conv2dGeometry } from "./geometry.js";
import { PreparedWeights, keepPrepared, keptPrepared } from "./prepared-weights.js";
import { geometryOf } from "./test-utils/geometry.js";

function randoms(n: number, seed: number): Float32Array {
  const g = new Generator(seed);
  return Float32Array.from({ length: n }, () => g.normal());
}

function forward(g: Conv2dGeometry, x: Float32Array, w: Float32Array, options: Conv2dWasmForwardOptions, outSize: number): Float32Array {
  const out = new Float32Array(outSize);
  expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, null, { data: out, offset: 0 }, options)).toBe(true);
  return out;
}

describe("PreparedWeights", () => {
  const cases = [
    { name: "5x5 conv+relu+maxpool (Winograd 5x5 path)", x: [1, 8, 12, 12], w: [16, 8, 5, 5], options: { reluMaxPool2x2: true }, out: 16 * 4 * 4 },
    { name: "3x3 padded, 16 channels (Winograd F(4x4, 3x3))", x: [2, 16, 8, 8], w: [16, 16, 3, 3], options: { padding: 1 }, out: 2 * 16 * 8 * 8 },
  ];
  for (const c of cases) {
    it(`${c.name}: a kept preparation gives the prepared run's bits, and is redone once the weights' version changes`, () => {
      const g = geometryOf(c.x, c.w, { padding: c.options.padding ?? 0 });
      const x = randoms(c.x.reduce((a, b) => a * b), 1);
      const w = randoms(c.w.reduce((a, b) => a * b), 2);
      const base: Conv2dWasmForwardOptions = { reluMaxPool2x2: c.options.reluMaxPool2x2 === true };
      const fresh = forward(g, x, w, base, c.out);
      const prepared = new PreparedWeights();
      expect(forward(g, x, w, { ...base, prepared }, c.out)).toEqual(fresh);
      expect(forward(g, x, w, { ...base, prepared }, c.out)).toEqual(fresh);
      // Written in place without a version bump: the kept preparation (of the old weights) still runs.
      w.forEach((v, i) => (w[i] = -v));
      expect(forward(g, x, w, { ...base, prepared }, c.out)).toEqual(fresh);
      bumpVersion(w);
      const negated = forward(g, x, w, base, c.out);
      expect(negated).not.toEqual(fresh);
      expect(forward(g, x, w, { ...base, prepared }, c.out)).toEqual(negated);
      // Another geometry (a batch more) with the same weights prepares again.
      const g2 = { ...g, batch: g.batch + 1 };
      const x2 = randoms(x.length + x.length / g.batch, 3);
      const unprepared = forward(g2, x2, w, base, c.out + c.out / g.batch);
      expect(forward(g2, x2, w, { ...base, prepared }, c.out + c.out / g.batch)).toEqual(unprepared);
    });
  }

  it("keepPrepared: weights declared constant keep their preparation across calls without a PreparedWeights passed, redone once their version changes", () => {
    const g = geometryOf([2, 16, 8, 8], [16, 16, 3, 3], { padding: 1 });
    const x = randoms(2 * 16 * 64, 4);
    const w = randoms(16 * 16 * 9, 5);
    const fresh = forward(g, x, w, {}, 2 * 16 * 64);
    expect(keptPrepared(w)).toBeUndefined();
    keepPrepared(w);
    expect(forward(g, x, w, {}, 2 * 16 * 64)).toEqual(fresh);
    expect(keptPrepared(w)!.lookup({ data: w, offset: 0 }, g, 0, 36 * 16 * 16)).not.toBeNull();
    // The kept transform runs: weights written without a version bump (which a constant never is) are not seen.
    w.forEach((v, i) => (w[i] = -v));
    expect(forward(g, x, w, {}, 2 * 16 * 64)).toEqual(fresh);
    bumpVersion(w);
    expect(forward(g, x, w, {}, 2 * 16 * 64)).toEqual(forward(g, x, Float32Array.from(w), {}, 2 * 16 * 64));
  });
});
