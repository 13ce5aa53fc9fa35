import { describe, expect, it } from "vitest";
import { confusionSvg } from "./confusion.js";

describe("confusionSvg", () => {
  it("colours mistakes red on their own scale (the largest darkest), correct cells green, empty mistakes blank", () => {
    const matrix = [
      [50, 1, 0],
      [4, 40, 0],
      [0, 0, 60],
    ];
    const svg = confusionSvg(matrix, ["0", "1", "2"]);
    const fills = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="46" height="46" fill="([^"]+)"/g)].map((m) => m[1]!);
    expect(fills).toHaveLength(9);
    const rgb = (fill: string): number[] => (fill === "white" ? [255, 255, 255] : fill.slice(4, -1).split(",").map(Number));
    const cell = (i: number, j: number): number[] => rgb(fills[i * 3 + j]!);
    for (const i of [0, 1, 2]) expect(cell(i, i)[1]!).toBeGreaterThan(cell(i, i)[0]!);
    expect(cell(1, 0)[0]!).toBeGreaterThan(cell(1, 0)[1]!);
    expect(cell(0, 1)[0]!).toBeGreaterThan(cell(0, 1)[1]!);
    expect(cell(1, 0)[1]!).toBeLessThan(cell(0, 1)[1]!);
    expect(cell(0, 2)).toEqual([255, 255, 255]);
    expect(svg).toContain("5 of 155 test images wrong");
  });
});
