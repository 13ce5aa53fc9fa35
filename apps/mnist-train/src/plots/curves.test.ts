import { describe, expect, it } from "vitest";
import type { EpochMetrics } from "../metrics.js";
import { curvesSvg, movingAverage } from "./curves.js";

function epoch(n: number, trainAccuracy: number, testAccuracy: number, testLoss: number): EpochMetrics {
  return { epoch: n, trainLoss: testLoss * 1.2, trainAccuracy, testLoss, testAccuracy, imagesPerSecond: 1000, seconds: 1, lr: 1e-3 };
}

/** The panels of the SVG, each with its y tick labels, polylines and legend rows. */
function panels(svg: string): { ticks: number[]; polylines: { y: number }[][]; dots: number[]; legendY: number[]; plotTop: number; plotBottom: number }[] {
  return svg
    .split('<g transform="translate(')
    .slice(1)
    .map((part) => ({
      ticks: [...part.matchAll(/text-anchor="end" font-size="11">([^<]+)</g)].map((m) => Number(m[1])),
      polylines: [...part.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(" ").map((p) => ({ y: Number(p.split(",")[1]) }))),
      legendY: [...part.matchAll(/<line x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="\1" stroke="[^"]+" stroke-width="3"/g)].map((m) => Number(m[1])),
      dots: [...part.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)" r="3.5"/g)].map((m) => Number(m[1])),
      plotTop: Number(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="[\d.]+" fill="none"/.exec(part)![1]),
      plotBottom: (([, y, h]) => Number(y) + Number(h))(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="none"/.exec(part)!),
    }));
}

describe("curvesSvg", () => {
  const steps = {
    stepsPerEpoch: 100,
    loss: Array.from({ length: 200 }, (_, i) => 2.3 * Math.exp(-i / 20) + 0.05 * ((i * 7) % 3)),
    accuracy: Array.from({ length: 200 }, (_, i) => Math.min(1, 1 - 0.9 * Math.exp(-i / 20) + 0.02 * ((i * 7) % 3))),
    lr: Array.from({ length: 200 }, (_, i) => 1e-3 * (1 - i / 200)),
  };
  const svg = curvesSvg([epoch(1, 0.9712, 0.9804, 0.07), epoch(2, 0.9881, 0.9934, 0.04)], steps);
  const [loss, accuracy, lr] = panels(svg);

  it("draws the training loss of every batch, not one point per epoch", () => {
    expect(loss!.polylines.some((line) => line.length === 200)).toBe(true);
    expect(accuracy!.polylines.some((line) => line.length === 200)).toBe(true);
    expect(lr!.polylines[0]).toHaveLength(200);
  });

  it("keeps the axes in range: loss and lr from 0, accuracy within [0, 1]", () => {
    expect(loss!.ticks[0]).toBe(0);
    expect(lr!.ticks[0]).toBe(0);
    expect(Math.max(...accuracy!.ticks)).toBeLessThanOrEqual(1);
    expect(Math.min(...accuracy!.ticks)).toBeGreaterThanOrEqual(0);
    // The test accuracies (0.9804, 0.9934) are drawn inside the frame, not on its edge.
    const points = accuracy!.dots.filter((y) => !accuracy!.legendY.includes(y));
    expect(points).toHaveLength(2);
    for (const y of points) expect(y > accuracy!.plotTop && y < accuracy!.plotBottom).toBe(true);
    // A batch all right (accuracy 1) touches the top of the frame, which is 1: never past it.
    for (const { y } of accuracy!.polylines.flat()) expect(y >= accuracy!.plotTop && y < accuracy!.plotBottom).toBe(true);
  });

  it("labels the y axes with round values", () => {
    for (const { ticks } of [loss!, accuracy!, lr!]) {
      const step = ticks[1]! - ticks[0]!;
      const mantissa = step / 10 ** Math.floor(Math.log10(step));
      expect([1, 2, 2.5, 5].some((m) => Math.abs(mantissa - m) < 1e-6)).toBe(true);
      for (const t of ticks) expect(Math.abs(t / step - Math.round(t / step))).toBeLessThan(1e-6);
    }
  });

  it("puts the legend above the plot area, where it covers no line", () => {
    for (const panel of [loss!, accuracy!, lr!]) {
      expect(panel.legendY.length).toBeGreaterThan(0);
      for (const y of panel.legendY) expect(y).toBeLessThan(panel.plotTop - 6);
    }
  });
});

describe("movingAverage", () => {
  it("averages the last `window` values, fewer at the start", () => {
    expect(movingAverage([1, 3, 5, 7], 2)).toEqual([1, 2, 4, 6]);
  });
});
