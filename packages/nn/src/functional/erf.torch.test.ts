import { Generator } from "@pico/core";
import { describeTorch, oracle, torchInput } from "@pico/torch-oracle";
import { describe, expect, it } from "vitest";
import { erf } from "./erf.js";

describe("erf", () => {
  it("has erf's special values, its oddness and the tabled values", () => {
    expect(Object.is(erf(0), 0)).toBe(true);
    expect(Object.is(erf(-0), -0)).toBe(true);
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 16);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 16);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 16);
    for (const x of [1e-300, 0.3, 0.9, 1.3, 2.9, 5.5, 7]) expect(erf(-x)).toBe(-erf(x));
  });
});

describeTorch("erf vs torch.special.erf in float64", () => {
  // Relative to the value, plus one step of the subnormals (whose spacing is absolute).
  it("agrees to 1e-15 relative on every interval of the approximation, their edges, tiny and subnormal inputs", async () => {
    const gen = new Generator(14);
    const xs: number[] = [];
    for (let i = 0; i < 4000; i++) xs.push((gen.random() * 2 - 1) * 7);
    for (let i = 0; i < 400; i++) xs.push((gen.random() < 0.5 ? -1 : 1) * 10 ** (-gen.random() * 320));
    for (const edge of [2 ** -28, 2 ** -1015, 0.84375, 1.25, 1 / 0.35, 6]) {
      for (const e of [edge * (1 - 2 ** -52), edge, edge * (1 + 2 ** -52)]) xs.push(e, -e);
    }
    xs.push(0, 5e-324, 1e-310, 27, 1e300);
    const r = await oracle().run({ code: "torch.special.erf(x)", inputs: { x: torchInput(xs) } });
    const expected = r.tensor().data;
    let worst = 0;
    xs.forEach((x, i) => {
      const want = expected[i]!;
      const error = Math.abs(erf(x) - want);
      if (error > 1e-15 * Math.abs(want) + Number.MIN_VALUE) expect.fail(`erf(${x}) = ${erf(x)}, torch ${want}`);
      if (Math.abs(want) > 1e-300) worst = Math.max(worst, error / Math.abs(want));
    });
    // One unit in the last place at most (2.2e-16): both are fdlibm's method, rounded differently here and there.
    expect(worst).toBeLessThan(2.3e-16);
  });
});
