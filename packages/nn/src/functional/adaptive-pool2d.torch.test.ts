import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { AdaptiveAvgPool2d } from "../layers/adaptive-avg-pool2d.js";
import { AdaptiveMaxPool2d } from "../layers/adaptive-max-pool2d.js";
import { adaptiveAvgPool2d } from "./adaptive-avg-pool2d.js";
import { adaptiveMaxPool2d } from "./adaptive-max-pool2d.js";
import type { AdaptiveSize } from "./adaptive-pool-size.js";

const py = (s: AdaptiveSize): string => (typeof s === "number" ? String(s) : `(${s.map((v) => (v === null ? "None" : v)).join(", ")})`);

// Windows that divide evenly, that overlap (7 → 3, 5 → 4), that are larger than the input (3 → 5), global (1), null sides.
const cases: [number[], AdaptiveSize][] = [
  [[2, 3, 8, 8], 1],
  [[2, 3, 8, 8], 4],
  [[2, 3, 7, 5], [3, 4]],
  [[1, 2, 3, 6], [5, 2]],
  [[1, 2, 9, 7], [null, 3]],
  [[1, 2, 9, 7], [4, null]],
  [[3, 10, 11], 3],
];

describeTorch("adaptive pooling vs torch", () => {
  for (const [x, size] of cases) {
    it(`adaptiveAvgPool2d x=${JSON.stringify(x)} size=${JSON.stringify(size)}`, () => compareWithTorch([x], (a) => adaptiveAvgPool2d(a, size), `F.adaptive_avg_pool2d(a, ${py(size)})`));
    it(`adaptiveMaxPool2d x=${JSON.stringify(x)} size=${JSON.stringify(size)}`, () => compareWithTorch([x], (a) => adaptiveMaxPool2d(a, size), `F.adaptive_max_pool2d(a, ${py(size)})`));
  }
  it("AdaptiveAvgPool2d layer, non-contiguous input", () =>
    compareWithTorch([[2, 4, 6, 5]], (a) => new AdaptiveAvgPool2d([2, 3]).forward(a), "nn.AdaptiveAvgPool2d((2, 3))(a)", { strided: true }));
  it("AdaptiveMaxPool2d layer, ties", () =>
    compareWithTorch([[2, 3, 6, 6]], (a) => new AdaptiveMaxPool2d(4).forward(a), "nn.AdaptiveMaxPool2d(4)(a)", { choices: [0, 1] }));
});
