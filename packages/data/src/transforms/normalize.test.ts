import { ArgumentError, ShapeError, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { normalize } from "./normalize.js";
import { applyTransform } from "./transform.js";

describe("normalize", () => {
  it("subtracts the mean and divides by the std of each channel", () => {
    const x = tensor([[[0, 1], [0.5, 0.25]], [[2, 4], [6, 8]]]);
    const y = applyTransform(normalize([0.5, 4], [0.25, 2]), x);
    expect(y.toArray()).toEqual([[[-2, 2], [0, -1]], [[-1, 0], [1, 2]]]);
    expect(x.toArray()).toEqual([[[0, 1], [0.5, 0.25]], [[2, 4], [6, 8]]]);
  });

  it("applies one mean/std to every channel, e.g. MNIST's 0.1307 / 0.3081", () => {
    const data = new Float32Array([9, 9, 0, 1, 9]);
    normalize(0.1307, 0.3081)(data, 2, [1, 1, 2]);
    expect(data[0]).toBe(9);
    expect(data[2]).toBeCloseTo(-0.1307 / 0.3081, 6);
    expect(data[3]).toBeCloseTo((1 - 0.1307) / 0.3081, 6);
    expect(data[4]).toBe(9);
  });

  it("refuses a channel count that does not match, and a zero std", () => {
    expect(() => applyTransform(normalize([0, 0], [1, 1]), tensor([[[1]], [[1]], [[1]]]))).toThrow(ShapeError);
    expect(() => applyTransform(normalize([0, 0], [1, 1]), tensor([[[1]], [[1]], [[1]]]))).toThrow(
      /normalize: 2 channel means for a sample of shape \[3, 1, 1\] with 3 channels/,
    );
    expect(() => normalize(0, 0)).toThrow(ArgumentError);
    expect(() => normalize([0, 1], [1])).toThrow(/same non-zero number of channels, but got 2 and 1/);
  });
});
