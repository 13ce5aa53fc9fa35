import { ArgumentError, Generator, ShapeError, Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { DataLoader } from "../data-loader.js";
import { TensorDataset } from "../dataset.js";
import { centerCrop } from "./center-crop.js";
import { compose } from "./compose.js";
import { normalize } from "./normalize.js";
import { randomCrop } from "./random-crop.js";
import { randomHorizontalFlip } from "./random-horizontal-flip.js";
import { resize } from "./resize.js";
import { applyTransform, transformedShape } from "./transform.js";

/** [c, h, w] with value 1 + ch * 100 + y * w + x. */
function ramp(c: number, h: number, w: number): Tensor {
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(ch * h + y) * w + x] = 1 + ch * 100 + y * w + x;
  return tensor(out, { shape: [c, h, w] });
}

describe("randomCrop", () => {
  it("with padding keeps the size and shifts the image by at most the padding, every channel alike", () => {
    const t = randomCrop(5, { padding: 2, generator: new Generator(3) });
    const seen = new Set<string>();
    for (let trial = 0; trial < 40; trial++) {
      const y = applyTransform(t, ramp(2, 5, 5)).toTypedArray();
      // Find the shift from where pixel (0, 0) of the source (value 1) landed, or from the first non-zero pixel.
      let dy = NaN;
      let dx = NaN;
      for (let p = 0; p < 25 && Number.isNaN(dy); p++) {
        const v = y[p]!;
        if (v === 0) continue;
        const sy = Math.floor((v - 1) / 5);
        const sx = (v - 1) % 5;
        dy = Math.floor(p / 5) - sy;
        dx = (p % 5) - sx;
      }
      expect(Math.abs(dy)).toBeLessThanOrEqual(2);
      expect(Math.abs(dx)).toBeLessThanOrEqual(2);
      for (let p = 0; p < 25; p++) {
        const sy = Math.floor(p / 5) - dy;
        const sx = (p % 5) - dx;
        const inside = sy >= 0 && sy < 5 && sx >= 0 && sx < 5;
        expect(y[p]).toBe(inside ? 1 + sy * 5 + sx : 0);
        expect(y[25 + p]).toBe(inside ? 101 + sy * 5 + sx : 0);
      }
      seen.add(`${dy},${dx}`);
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it("cuts a smaller window, with uneven padding and a fill value; is repeatable from a seed", () => {
    const run = (): number[] => Array.from(applyTransform(randomCrop([2, 3], { padding: [1, 0, 0, 2], fill: -1, generator: new Generator(9) }), ramp(1, 4, 4)).toTypedArray());
    const y = run();
    expect(y).toHaveLength(6);
    expect(run()).toEqual(y);
    expect(transformedShape(randomCrop([2, 3]), [3, 8, 8])).toEqual([3, 2, 3]);
    const all = applyTransform(randomCrop([6, 5], { padding: [1, 0, 0, 2], fill: -1, generator: new Generator(1) }), ramp(1, 4, 4));
    expect(all.toArray()).toEqual([
      [[-1, 1, 2, 3, 4], [-1, 5, 6, 7, 8], [-1, 9, 10, 11, 12], [-1, 13, 14, 15, 16], [-1, -1, -1, -1, -1], [-1, -1, -1, -1, -1]],
    ]);
  });

  it("refuses bad sizes and paddings, and a crop larger than the padded image", () => {
    expect(() => randomCrop(0)).toThrow("randomCrop: size must be a positive integer or a [height, width] pair of them, but got 0");
    expect(() => randomCrop(4, { padding: [1, 2, 3] as unknown as number })).toThrow("randomCrop: padding must be a non-negative integer or a list of 2 or 4 of them, but got [1,2,3]");
    expect(() => applyTransform(randomCrop(6, { padding: 1 }), ramp(1, 3, 3))).toThrow(
      "randomCrop: the crop 6x6 is larger than the padded image 5x5 (sample 1x3x3, padding [1, 1, 1, 1])",
    );
    expect(() => applyTransform(randomCrop(2), tensor([1, 2, 3]))).toThrow(ShapeError);
  });
});

describe("randomHorizontalFlip", () => {
  it("mirrors each row of every channel with probability p", () => {
    expect(applyTransform(randomHorizontalFlip(1), ramp(2, 2, 3)).toArray()).toEqual([
      [[3, 2, 1], [6, 5, 4]],
      [[103, 102, 101], [106, 105, 104]],
    ]);
    expect(applyTransform(randomHorizontalFlip(0), ramp(1, 2, 3)).toArray()).toEqual(ramp(1, 2, 3).toArray());
    const t = randomHorizontalFlip(0.5, { generator: new Generator(2) });
    let flipped = 0;
    for (let i = 0; i < 200; i++) if (applyTransform(t, ramp(1, 1, 2)).toTypedArray()[0] === 2) flipped++;
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
    expect(() => randomHorizontalFlip(2)).toThrow(ArgumentError);
  });
});

describe("centerCrop", () => {
  it("cuts the centre window as torchvision (top = round((H - h) / 2), half to even), padding with zeros when larger", () => {
    expect(applyTransform(centerCrop(2), ramp(1, 4, 4)).toArray()).toEqual([[[6, 7], [10, 11]]]);
    // (5 - 2) / 2 = 1.5 rounds to 2; (4 - 3) / 2 = 0.5 rounds to 0.
    expect(applyTransform(centerCrop([2, 3]), ramp(1, 5, 4)).toArray()).toEqual([[[9, 10, 11], [13, 14, 15]]]);
    expect(applyTransform(centerCrop(4), ramp(1, 2, 2)).toArray()).toEqual([[[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]]);
  });
});

describe("resize", () => {
  it("keeps the aspect ratio from one number and doubles a constant image exactly", () => {
    expect(transformedShape(resize(14), [1, 28, 42])).toEqual([1, 14, 21]);
    expect(transformedShape(resize([7, 9]), [3, 28, 28])).toEqual([3, 7, 9]);
    expect(Array.from(applyTransform(resize(4), Tensor.full([1, 2, 2], 3)).toTypedArray())).toEqual(new Array(16).fill(3));
    expect(applyTransform(resize([1, 4], { interpolation: "nearest" }), ramp(1, 1, 2)).toArray()).toEqual([[[1, 1, 2, 2]]]);
    expect(() => resize(2, { interpolation: "bicubic" as "nearest" })).toThrow('resize: interpolation must be "bilinear" or "nearest", but got "bicubic"');
  });
});

describe("shape-changing transforms in compose and the DataLoader", () => {
  it("compose chains shapes through a larger intermediate, and the DataLoader batches the output shape", () => {
    const chain = compose(resize(8), centerCrop(3), normalize(0, 2));
    expect(transformedShape(chain, [1, 4, 4])).toEqual([1, 3, 3]);
    const expected = applyTransform(normalize(0, 2), applyTransform(centerCrop(3), applyTransform(resize(8), ramp(1, 4, 4))));
    expect(applyTransform(chain, ramp(1, 4, 4)).toArray()).toEqual(expected.toArray());
    const images = Tensor.stack([ramp(1, 4, 4), ramp(1, 4, 4).mul(2)]);
    const loader = new DataLoader(new TensorDataset(images, [0, 1]), { batchSize: 2, transform: chain });
    const [inputs, targets] = loader.collate([0, 1]);
    expect(inputs.shape).toEqual([2, 1, 3, 3]);
    expect(Array.from(inputs.toTypedArray().subarray(0, 9))).toEqual(Array.from(expected.toTypedArray()));
    expect(Array.from(targets.toTypedArray())).toEqual([0, 1]);
  });
});
