import { Tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { ELU } from "../layers/elu.js";
import { GELU } from "../layers/gelu.js";
import { Hardsigmoid } from "../layers/hardsigmoid.js";
import { Hardswish } from "../layers/hardswish.js";
import { Mish } from "../layers/mish.js";
import { PReLU } from "../layers/prelu.js";
import { SiLU } from "../layers/silu.js";
import { elu } from "./elu.js";
import { gelu } from "./gelu.js";
import { hardsigmoid } from "./hardsigmoid.js";
import { hardswish } from "./hardswish.js";
import { mish } from "./mish.js";
import { prelu } from "./prelu.js";
import { silu } from "./silu.js";

type Unary = (a: Tensor) => Tensor;
// Hardswish and Hardsigmoid are drawn over [-5, 5] to cross both kinks, kept 0.05 away from them.
const wide = { low: -5, high: 5, avoid: [-3, 3] };
const cases: [string, Unary, string, { avoid?: number[]; low?: number; high?: number }?][] = [
  ["gelu", (a) => gelu(a), "F.gelu(a)", { low: -6, high: 6 }],
  ["gelu tanh", (a) => gelu(a, { approximate: "tanh" }), "F.gelu(a, approximate='tanh')", { low: -6, high: 6 }],
  ["GELU", (a) => new GELU().forward(a), "nn.GELU()(a)"],
  ["GELU tanh", (a) => new GELU({ approximate: "tanh" }).forward(a), "nn.GELU(approximate='tanh')(a)"],
  ["silu", (a) => silu(a), "F.silu(a)", { low: -40, high: 40 }],
  ["SiLU", (a) => new SiLU().forward(a), "nn.SiLU()(a)"],
  ["elu", (a) => elu(a), "F.elu(a)", { avoid: [0] }],
  ["elu alpha 0.5", (a) => elu(a, 0.5), "F.elu(a, 0.5)", { avoid: [0] }],
  ["ELU alpha 2", (a) => new ELU(2).forward(a), "nn.ELU(2.0)(a)", { avoid: [0] }],
  ["hardswish", (a) => hardswish(a), "F.hardswish(a)", wide],
  ["Hardswish", (a) => new Hardswish().forward(a), "nn.Hardswish()(a)", wide],
  ["hardsigmoid", (a) => hardsigmoid(a), "F.hardsigmoid(a)", wide],
  ["Hardsigmoid", (a) => new Hardsigmoid().forward(a), "nn.Hardsigmoid()(a)", wide],
  ["mish", (a) => mish(a), "F.mish(a)", { low: -30, high: 30 }],
  ["Mish", (a) => new Mish().forward(a), "nn.Mish()(a)"],
];

describeTorch("GELU, SiLU, ELU, Hardswish, Hardsigmoid, Mish vs torch: output and input gradient", () => {
  for (const [label, pico, torch, options] of cases) {
    it(`${label} [3, 4, 5]`, () => compareWithTorch([[3, 4, 5]], pico, torch, { ...options, label }));
    it(`${label} non-contiguous [4, 3, 2, 3]`, () => compareWithTorch([[4, 3, 2, 3]], pico, torch, { ...options, strided: true, label: `${label} strided` }));
  }
  it("the kinks of hardswish, hardsigmoid and elu get torch's gradient", () =>
    compareWithTorch([[6]], (a) => [hardswish(a), hardsigmoid(a).mul(2), elu(a, 0.7)], "[F.hardswish(a), F.hardsigmoid(a) * 2, F.elu(a, 0.7)]", { inputs: [{ values: [-3, 3, 0, -3.5, 3.5, 1] }] }));
});

describeTorch("PReLU vs torch: output, input gradient and slope gradient", () => {
  it("prelu, one slope per channel [2, 3, 4, 5]", () => compareWithTorch([[2, 3, 4, 5], [3]], (a, w) => prelu(a, w), "F.prelu(a, b)", { avoid: [0] }));
  it("prelu, one shared slope [4, 6]", () => compareWithTorch([[4, 6], [1]], (a, w) => prelu(a, w), "F.prelu(a, b)", { avoid: [0] }));
  it("prelu, 1-D input [7]", () => compareWithTorch([[7], [1]], (a, w) => prelu(a, w), "F.prelu(a, b)", { avoid: [0] }));
  it("prelu, per channel on [2, 4] non-contiguous", () => compareWithTorch([[2, 4], [4]], (a, w) => prelu(a, w), "F.prelu(a, b)", { avoid: [0], strided: true }));
  it("PReLU(numParameters 3, init 0.1) has torch's weight and state-dict key", () => {
    const layer = new PReLU({ numParameters: 3, init: 0.1 });
    expect(Object.keys(layer.stateDict())).toEqual(["weight"]);
    expect(Array.from(layer.weight.toTypedArray())).toEqual([0.1, 0.1, 0.1].map(Math.fround));
    return compareWithTorch([[2, 3, 4]], (a) => new PReLU({ numParameters: 3, init: 0.1, dtype: a.dtype }).forward(a), "m = nn.PReLU(3).to(a.dtype)\nnn.init.constant_(m.weight, 0.1)\nout = m(a)", { avoid: [0] });
  });
});
