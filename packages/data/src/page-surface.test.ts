import { describe, expect, it } from "vitest";
import { fitPage, pageAt, pageRow } from "./page-surface.js";

/** A page lit by `light` with dark (or light) bars of ink across a third of it, plus seeded noise of ±amplitude. */
function picture(width: number, height: number, light: (u: number, v: number) => number, darkInk: boolean, amplitude = 0): Float32Array {
  let seed = 11;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const page = light(x / width, y / height);
      const ink = (x % 20 < 6 && y > height / 4 && y < (3 * height) / 4) || (y % 25 < 5 && x > width / 3);
      const noise = amplitude === 0 ? 0 : ((((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 1001) / 500 - 1) * amplitude) / 255;
      out[y * width + x] = (ink ? (darkInk ? 0.1 * page : 0.95) : page) + noise;
    }
  }
  return out;
}

describe("fitPage", () => {
  it("recovers a page lit by a gradient and a vignette under dark ink, to a fraction of a grey level", () => {
    const light = (u: number, v: number) => 0.35 + 0.5 * u + 0.1 * v - 0.4 * ((u - 0.5) ** 2 + (v - 0.5) ** 2);
    const [width, height] = [300, 200];
    const page = fitPage(picture(width, height, light, true), width, height, true);
    for (const [x, y] of [[0, 0], [299, 0], [150, 100], [0, 199], [299, 199], [77, 150]] as const) {
      expect(Math.abs(pageAt(page.surface, x, y, width, height) - light(x / width, y / height)) * 255).toBeLessThan(1.5);
    }
    expect(page.noise).toBe(0);
  });

  it("recovers a dark page under light ink and estimates the noise's standard deviation", () => {
    const light = (u: number) => 0.1 + 0.2 * u;
    const [width, height] = [240, 180];
    const amplitude = 12; // uniform on ±12 levels: standard deviation 12/√3 ≈ 6.9
    const page = fitPage(picture(width, height, light, false, amplitude), width, height, false);
    for (const [x, y] of [[0, 0], [239, 179], [120, 90]] as const) expect(Math.abs(pageAt(page.surface, x, y, width, height) - light(x / width)) * 255).toBeLessThan(2);
    // The median absolute deviation counts the ink too (a quarter of these pixels), so it errs high.
    expect(page.noise * 255).toBeGreaterThan(5);
    expect(page.noise * 255).toBeLessThan(13);
  });

  it("gives a flat page for a picture too small to fit a surface, and rows that agree with pageAt", () => {
    const tiny = fitPage(Float32Array.of(0.8, 0.8, 0.2), 3, 1, true);
    expect(pageAt(tiny.surface, 2, 0, 3, 1)).toBeCloseTo(0.8, 6);
    const surface = Float64Array.of(0.5, 0.1, -0.2, 0.3, 0.05, -0.1);
    const row = pageRow(surface, 7, 40, 30);
    const u = (13 + 0.5) / 40 - 0.5;
    expect(row.constant + u * (row.linear + u * row.square)).toBeCloseTo(pageAt(surface, 13, 7, 40, 30), 12);
  });
});
