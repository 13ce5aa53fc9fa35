import { describe, expect, it } from "vitest";
import { sampleCells, sampleTitle } from "./samples.js";

describe("sampleCells", () => {
  it("captions say which digit is the prediction; a mistake also gives the true digit, in red", () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => i % 10);
    const predictions = Int32Array.from(labels);
    predictions[3] = 7; // true 3
    const cells = sampleCells({ predictions, labels });
    expect(cells.labels[0]).toBe("pred 0");
    expect(cells.labels[3]).toBe("pred 7 / true 3");
    expect(cells.labelColors[3]).not.toBe(cells.labelColors[0]);
    expect(cells.mistakes).toBe(1);
    expect(cells.indices).toHaveLength(64);
  });

  it("with few mistakes among the first 64, the last cells show later ones", () => {
    const labels = Int32Array.from({ length: 200 }, (_, i) => i % 10);
    const predictions = Int32Array.from(labels);
    for (const i of [70, 90, 150]) predictions[i] = (labels[i]! + 1) % 10;
    const cells = sampleCells({ predictions, labels });
    expect(cells.indices.slice(-3)).toEqual([70, 90, 150]);
    expect(cells.labels.slice(-3)).toEqual(["pred 1 / true 0", "pred 1 / true 0", "pred 1 / true 0"]);
    expect(cells.mistakes).toBe(3);
    expect(sampleTitle(cells.indices, cells.mistakes)).toBe(
      "The first 61 test digits and 3 later mistakes, captioned with the prediction; 3 wrong (red, with the true digit)",
    );
  });
});
