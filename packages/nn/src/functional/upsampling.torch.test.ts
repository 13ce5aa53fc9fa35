import { Tensor, gradcheck } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { describe, expect, it } from "vitest";
import { PixelShuffle, PixelUnshuffle } from "../layers/pixel-shuffle.js";
import { Upsample } from "../layers/upsample.js";
import { randn } from "../test-utils/tensors.js";
import { interpolate, type InterpolateOptions } from "./interpolate.js";
import { pixelShuffle, pixelUnshuffle } from "./pixel-shuffle.js";

const cases: [number[], InterpolateOptions, string][] = [
  [[2, 3, 4, 5], { size: [8, 10] }, "size=(8, 10)"],
  [[2, 3, 5, 4], { size: [7, 3] }, "size=(7, 3)"],
  [[1, 2, 4, 4], { scaleFactor: 2 }, "scale_factor=2"],
  [[1, 2, 5, 6], { scaleFactor: [1.5, 0.7] }, "scale_factor=(1.5, 0.7)"],
  [[2, 3, 4, 5], { size: [9, 7], mode: "bilinear" }, "size=(9, 7), mode='bilinear'"],
  [[2, 3, 6, 5], { size: [3, 4], mode: "bilinear" }, "size=(3, 4), mode='bilinear'"],
  [[2, 3, 4, 5], { size: [9, 7], mode: "bilinear", alignCorners: true }, "size=(9, 7), mode='bilinear', align_corners=True"],
  [[1, 2, 4, 4], { scaleFactor: 2.5, mode: "bilinear" }, "scale_factor=2.5, mode='bilinear'"],
  [[1, 2, 5, 3], { size: [1, 6], mode: "bilinear", alignCorners: true }, "size=(1, 6), mode='bilinear', align_corners=True"],
  [[3, 4, 5], { size: [6, 2], mode: "bilinear" }, "size=(6, 2), mode='bilinear'"],
];

describeTorch("interpolate, Upsample, pixelShuffle vs torch: output and input gradient", () => {
  for (const [x, options, torchArgs] of cases) {
    const torch = x.length === 3 ? `F.interpolate(a[None], ${torchArgs})[0]` : `F.interpolate(a, ${torchArgs})`;
    it(`x=${JSON.stringify(x)} ${torchArgs}`, () => compareWithTorch([x], (a) => interpolate(a, options), torch));
  }
  it("Upsample(scaleFactor 2, bilinear, alignCorners), non-contiguous", () =>
    compareWithTorch([[2, 2, 3, 4]], (a) => new Upsample({ scaleFactor: 2, mode: "bilinear", alignCorners: true }).forward(a), "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)(a)", { strided: true }));
  it("pixelShuffle r=2 [2, 8, 3, 4] and r=3 with a leading axis [2, 1, 9, 2, 2]", async () => {
    await compareWithTorch([[2, 8, 3, 4]], (a) => pixelShuffle(a, 2), "F.pixel_shuffle(a, 2)");
    await compareWithTorch([[2, 1, 9, 2, 2]], (a) => new PixelShuffle(3).forward(a), "nn.PixelShuffle(3)(a)");
  });
  it("pixelUnshuffle r=2 [2, 3, 4, 6], non-contiguous", () => compareWithTorch([[2, 3, 4, 6]], (a) => new PixelUnshuffle(2).forward(a), "F.pixel_unshuffle(a, 2)", { strided: true }));
});

describe("interpolate and pixel shuffle", () => {
  it("gradcheck in float64 (bilinear both ways, nearest), and pixelUnshuffle undoes pixelShuffle", () => {
    const x = (): Tensor => randn([1, 2, 3, 4], 1, { requiresGrad: true });
    expect(gradcheck((a) => interpolate(a, { size: [5, 7], mode: "bilinear" }), [x()])).toBe(true);
    expect(gradcheck((a) => interpolate(a, { size: [2, 9], mode: "bilinear", alignCorners: true }), [x()])).toBe(true);
    expect(gradcheck((a) => interpolate(a, { scaleFactor: 2 }), [x()])).toBe(true);
    const y = Tensor.randn([2, 8, 3, 3]);
    expect(pixelUnshuffle(pixelShuffle(y, 2), 2).toArray()).toEqual(y.toArray());
  });

  it("refuses bad options, naming the layer and the rule", () => {
    expect(() => new Upsample({ scaleFactor: 2, alignCorners: true })).toThrow('Upsample: alignCorners applies to mode "bilinear" only (torch refuses it for "nearest")');
    expect(() => new Upsample({ size: 4, scaleFactor: 2 })).toThrow("Upsample: give exactly one of size and scaleFactor");
    expect(() => new Upsample({ size: 0 })).toThrow("Upsample: size must be a positive integer or a pair of them, but got 0");
    expect(() => new Upsample({ size: 4, mode: "bicubic" as "nearest" })).toThrow('Upsample: mode must be "nearest" or "bilinear", but got "bicubic"');
    expect(() => interpolate(Tensor.zeros([2, 3]), { size: 4 })).toThrow("interpolate: input must be [N, C, H, W] or [C, H, W], but got shape [2, 3]");
    expect(() => pixelShuffle(Tensor.zeros([1, 6, 2, 2]), 2)).toThrow("pixelShuffle: the input's 6 channels must be divisible by upscaleFactor² = 4, in input of shape [1, 6, 2, 2]");
    expect(() => new PixelShuffle(0)).toThrow(/PixelShuffle: upscaleFactor/);
  });
});
