import { compareWithTorch, describeTorch, type CompareOptions } from "@pico/torch-oracle";
import { it } from "vitest";
import type { Tensor } from "../tensor.js";

type Case = [name: string, pico: (a: Tensor) => Tensor, torch: string, options?: CompareOptions];

const NAN = Number.NaN;
const INF = Number.POSITIVE_INFINITY;

const CASES: Case[] = [
  ["neg", (a) => a.neg(), "-a"],
  ["exp", (a) => a.exp(), "a.exp()", { low: -5, high: 5 }],
  ["log", (a) => a.log(), "a.log()", { low: 0.05, high: 5 }],
  ["sqrt", (a) => a.sqrt(), "a.sqrt()", { low: 0.05, high: 5 }],
  ["abs", (a) => a.abs(), "a.abs()", { avoid: [0] }],
  ["relu", (a) => a.relu(), "a.relu()", { avoid: [0] }],
  ["sigmoid", (a) => a.sigmoid(), "a.sigmoid()", { low: -8, high: 8 }],
  ["tanh", (a) => a.tanh(), "a.tanh()", { low: -4, high: 4 }],
  ["square", (a) => a.square(), "a.square()"],
];

const SHAPES: number[][] = [[], [7], [3, 4], [2, 3, 4]];

const SPECIAL = [0, -0, NAN, INF, -INF, 1, -1, 1e-30, -1e-30, 50, -50, 800, -800];
const SPECIAL_CASES: Case[] = [
  ["neg", (a) => a.neg(), "-a"],
  ["exp", (a) => a.exp(), "a.exp()"],
  ["log", (a) => a.log(), "a.log()"],
  ["sqrt", (a) => a.sqrt(), "a.sqrt()"],
  ["abs", (a) => a.abs(), "a.abs()"],
  ["sigmoid", (a) => a.sigmoid(), "a.sigmoid()"],
  ["tanh", (a) => a.tanh(), "a.tanh()"],
  ["square", (a) => a.square(), "a.square()"],
];

describeTorch("unary operators vs torch", () => {
  for (const [name, pico, torch, options] of CASES) {
    for (const shape of SHAPES) {
      it(`${name} x=[${shape}]`, () => compareWithTorch([shape], pico, torch, { ...options, label: `${name} [${shape}]` }));
    }
    it(`${name} x=[3,4,2] strided`, () => compareWithTorch([[3, 4, 2]], pico, torch, { ...options, strided: true, label: `${name} strided` }));
  }
  for (const [name, pico, torch] of SPECIAL_CASES) {
    it(`${name} at 0, -0, NaN, ±Infinity, ±1, tiny and huge values`, () =>
      compareWithTorch([[SPECIAL.length]], pico, torch, { inputs: [{ values: SPECIAL }], label: `${name} special values` }));
  }
  it("relu at 0, -0, ±Infinity, ±1, tiny and huge values", () =>
    compareWithTorch([[SPECIAL.length - 1]], (a) => a.relu(), "a.relu()", { inputs: [{ values: SPECIAL.filter((v) => !Number.isNaN(v)) }], label: "relu special values" }));
});
