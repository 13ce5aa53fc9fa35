import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { AvgPool2d } from "../layers/avg-pool2d.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { avgPool2d } from "./avg-pool2d.js";
import { maxPool2d } from "./max-pool2d.js";
import type { IntPair } from "./pair.js";

interface MaxCase {
  x: number[];
  k: IntPair;
  stride?: IntPair;
  padding?: IntPair;
  dilation?: IntPair;
  ceilMode?: boolean;
  strided?: boolean;
  choices?: number[];
}

interface AvgCase extends Omit<MaxCase, "dilation"> {
  countIncludePad?: boolean;
  divisorOverride?: number;
}

const py = (v: IntPair): string => (typeof v === "number" ? String(v) : `(${v[0]}, ${v[1]})`);

function torchArgs(c: AvgCase & MaxCase): string {
  const args = [py(c.k)];
  if (c.stride !== undefined) args.push(`stride=${py(c.stride)}`);
  if (c.padding !== undefined) args.push(`padding=${py(c.padding)}`);
  if (c.dilation !== undefined) args.push(`dilation=${py(c.dilation)}`);
  if (c.ceilMode !== undefined) args.push(`ceil_mode=${c.ceilMode ? "True" : "False"}`);
  if (c.countIncludePad !== undefined) args.push(`count_include_pad=${c.countIncludePad ? "True" : "False"}`);
  if (c.divisorOverride !== undefined) args.push(`divisor_override=${c.divisorOverride}`);
  return args.join(", ");
}

const name = (c: object): string => JSON.stringify(c).replace(/"/g, "");

const maxCases: MaxCase[] = [
  { x: [2, 3, 8, 8], k: 2 },
  { x: [2, 3, 7, 9], k: 2 },
  { x: [2, 2, 7, 9], k: 2, stride: 1 },
  { x: [2, 2, 7, 9], k: 3, stride: 2, padding: 1 },
  { x: [1, 2, 8, 7], k: [2, 3], stride: [1, 2], padding: [1, 0] },
  { x: [1, 2, 9, 9], k: 3, stride: 1, padding: 1, dilation: 2 },
  { x: [1, 2, 10, 11], k: [2, 3], dilation: [3, 2] },
  { x: [2, 2, 7, 7], k: 2, ceilMode: true },
  { x: [1, 2, 8, 8], k: 3, stride: 2, ceilMode: true },
  { x: [1, 2, 6, 6], k: 3, stride: 2, padding: 1, ceilMode: true },
  { x: [1, 2, 9, 10], k: 3, stride: 2, padding: 1, dilation: [2, 1], ceilMode: true },
  { x: [1, 1, 5, 5], k: 2, stride: 3, ceilMode: true },
  { x: [3, 6, 6], k: 2 },
  { x: [2, 3, 6, 5], k: 2, stride: 1, strided: true },
  // Ties: the gradient goes to the first maximum in scan order, in both.
  { x: [2, 2, 6, 6], k: 2, choices: [0, 1] },
  { x: [2, 2, 6, 6], k: 3, stride: 1, padding: 1, choices: [-1, 0] },
];

describeTorch("maxPool2d and MaxPool2d vs torch", () => {
  for (const c of maxCases) {
    const { x, k, strided, choices, ...options } = c;
    it(`F.maxPool2d ${name(c)}`, () => compareWithTorch([x], (a) => maxPool2d(a, k, options), `F.max_pool2d(a, ${torchArgs(c)})`, { strided, choices }));
  }
  it("MaxPool2d layer with every option", () =>
    compareWithTorch(
      [[2, 3, 9, 10]],
      (a) => new MaxPool2d([3, 2], { stride: [2, 1], padding: 1, dilation: [2, 1], ceilMode: true }).forward(a),
      "nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(2, 1), ceil_mode=True)(a)",
    ));
  it("NaN: the window's value is NaN and its gradient goes to the last NaN, as torch", () =>
    compareWithTorch([[1, 1, 2, 4]], (a) => maxPool2d(a, 2), "F.max_pool2d(a, 2)", {
      inputs: [{ values: [Number.NaN, 1, 5, Number.NaN, Number.NaN, 2, 4, Number.NaN] }],
    }));
  it("NaN, general path (3×3 windows, stride 1)", () =>
    compareWithTorch([[1, 1, 3, 4]], (a) => maxPool2d(a, 3, { stride: 1 }), "F.max_pool2d(a, 3, stride=1)", {
      inputs: [{ values: [1, Number.NaN, 3, 0, Number.NaN, 2, 8, 1, 0, 0, Number.NaN, 9] }],
    }));
});

const avgCases: AvgCase[] = [
  { x: [2, 3, 8, 8], k: 2 },
  { x: [2, 2, 7, 9], k: 3, stride: 2, padding: 1 },
  { x: [2, 2, 7, 9], k: 3, stride: 2, padding: 1, countIncludePad: false },
  { x: [1, 2, 8, 7], k: [2, 3], stride: [1, 2], padding: [1, 0] },
  { x: [2, 2, 7, 7], k: 2, ceilMode: true },
  { x: [1, 2, 5, 5], k: 3, stride: 2, padding: 1, ceilMode: true },
  { x: [1, 2, 5, 5], k: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false },
  { x: [1, 2, 6, 6], k: 4, stride: 3, padding: 2, ceilMode: true },
  { x: [1, 2, 6, 6], k: 2, divisorOverride: 3 },
  { x: [1, 2, 6, 7], k: 3, stride: 2, padding: 1, ceilMode: true, divisorOverride: -2 },
  { x: [3, 6, 6], k: 2 },
  { x: [2, 3, 6, 5], k: 2, stride: 1, padding: 1, strided: true },
];

describeTorch("avgPool2d and AvgPool2d vs torch", () => {
  for (const c of avgCases) {
    const { x, k, strided, choices, ...options } = c;
    it(`F.avgPool2d ${name(c)}`, () => compareWithTorch([x], (a) => avgPool2d(a, k, options), `F.avg_pool2d(a, ${torchArgs(c)})`, { strided, choices }));
  }
  it("AvgPool2d layer with every option", () =>
    compareWithTorch(
      [[2, 3, 9, 10]],
      (a) => new AvgPool2d([3, 2], { stride: [2, 1], padding: 1, ceilMode: true, countIncludePad: false, divisorOverride: 5 }).forward(a),
      "nn.AvgPool2d((3, 2), stride=(2, 1), padding=1, ceil_mode=True, count_include_pad=False, divisor_override=5)(a)",
    ));
});
