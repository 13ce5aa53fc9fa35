import { ArgumentError } from "@pico/core";
import { describe, expect, it } from "vitest";
import { pair } from "./pair.js";

describe("pair", () => {
  it("repeats a number and passes a pair through", () => {
    expect(pair("op", "stride", 2, 1)).toEqual([2, 2]);
    expect(pair("op", "stride", [1, 3], 1)).toEqual([1, 3]);
    expect(pair("op", "padding", 0, 0)).toEqual([0, 0]);
  });
  it("rejects values below the minimum, non-integers, wrong lengths and non-numbers, naming operator and argument", () => {
    expect(() => pair("conv2d", "stride", 0, 1)).toThrow(ArgumentError);
    expect(() => pair("conv2d", "stride", 0, 1)).toThrow("conv2d: stride must be an integer >= 1 or a pair [height, width] of them, but got 0");
    expect(() => pair("maxPool2d", "padding", [0, -1], 0)).toThrow("maxPool2d: padding must be a non-negative integer or a pair [height, width] of them, but got [0, -1]");
    expect(() => pair("op", "kernelSize", 2.5, 1)).toThrow("but got 2.5");
    expect(() => pair("op", "kernelSize", [2] as unknown as number, 1)).toThrow("but got [2]");
    expect(() => pair("op", "kernelSize", "3" as unknown as number, 1)).toThrow('but got string "3"');
    expect(() => pair("op", "kernelSize", Number.NaN, 1)).toThrow("but got NaN");
  });
});
