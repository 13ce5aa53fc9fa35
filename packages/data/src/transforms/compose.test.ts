import { tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { compose } from "./compose.js";
import { normalize } from "./normalize.js";
import { applyTransform } from "./transform.js";

describe("compose", () => {
  it("applies transforms left to right", () => {
    const double = compose((d, o, s) => {
      const n = s.reduce((p, q) => p * q, 1);
      for (let i = o; i < o + n; i++) d[i] = d[i]! * 2;
    });
    const x = tensor([[[1, 2]]]);
    expect(applyTransform(compose(double, normalize(1, 2)), x).toArray()).toEqual([[[0.5, 1.5]]]);
    expect(applyTransform(compose(normalize(1, 2), double), x).toArray()).toEqual([[[0, 1]]]);
    expect(applyTransform(compose(), x).toArray()).toEqual([[[1, 2]]]);
  });
});
