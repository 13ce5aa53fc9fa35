import { ArgumentError } from "@pico/core";
import { describe, expect, it } from "vitest";
import { ConvTranspose2d } from "./conv-transpose2d.js";
import { Conv2d } from "./conv2d.js";
import { checkConvChannels } from "./conv-options.js";

describe("checkConvChannels", () => {
  it("returns the groups, 1 when not given", () => {
    expect(checkConvChannels("Conv2d", 6, 4, undefined)).toBe(1);
    expect(checkConvChannels("Conv2d", 6, 4, 2)).toBe(2);
  });

  it("refuses channels and groups that are not integers >= 1, naming the layer, argument and value", () => {
    expect(() => checkConvChannels("Conv2d", 0, 4, 1)).toThrow(new ArgumentError("Conv2d: inChannels must be an integer >= 1, but got 0"));
    expect(() => checkConvChannels("Conv2d", 3, 2.5, 1)).toThrow("Conv2d: outChannels must be an integer >= 1, but got 2.5");
    expect(() => checkConvChannels("Conv2d", 3, 3, 0)).toThrow("Conv2d: groups must be an integer >= 1, but got 0");
  });

  it("refuses channel counts not divisible by groups, in both layers with each one's name", () => {
    expect(() => new Conv2d(6, 3, 3, { groups: 2 })).toThrow("Conv2d: outChannels (3) must be divisible by groups (2)");
    expect(() => new ConvTranspose2d(3, 6, 3, { groups: 2 })).toThrow("ConvTranspose2d: inChannels (3) must be divisible by groups (2)");
    expect(() => new ConvTranspose2d(4, 6, 3, { groups: 0 })).toThrow("ConvTranspose2d: groups must be an integer >= 1, but got 0");
    expect(new ConvTranspose2d(4, 6, 3, { groups: 2 }).weight.shape).toEqual([4, 3, 3, 3]);
  });
});
