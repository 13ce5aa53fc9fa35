import { Generator, Tensor } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { calculateFanInAndFanOut, calculateGain, kaimingNormal, kaimingUniform, normal, uniform, xavierNormal, xavierUniform, type Nonlinearity } from "./init.js";

// Gains and fans are compared exactly. Random initialisers draw from other generators than torch's, so
// their distributions are compared: over 240,000 draws, the largest |value| (the bound of a uniform)
// to 0.1% and the standard deviation to 1%.

const GAINS: [Nonlinearity, string, number?][] = [
  ["linear", "linear"],
  ["conv1d", "conv1d"],
  ["conv2d", "conv2d"],
  ["conv3d", "conv3d"],
  ["convTranspose1d", "conv_transpose1d"],
  ["convTranspose2d", "conv_transpose2d"],
  ["convTranspose3d", "conv_transpose3d"],
  ["sigmoid", "sigmoid"],
  ["tanh", "tanh"],
  ["relu", "relu"],
  ["leakyRelu", "leaky_relu"],
  ["leakyRelu", "leaky_relu", 0.2],
  ["selu", "selu"],
];

const SHAPE = [400, 24, 5, 5];

function stats(t: Tensor): { max: number; std: number } {
  const v = t.toTypedArray();
  let max = 0;
  let sum = 0;
  let sq = 0;
  for (const x of v) {
    max = Math.max(max, Math.abs(x));
    sum += x;
    sq += x * x;
  }
  const mean = sum / v.length;
  return { max, std: Math.sqrt(sq / v.length - mean * mean) };
}

describeTorch("init vs torch.nn.init", () => {
  it("calculateGain for every nonlinearity", async () => {
    const r = await oracle().run({
      code: `out = [${GAINS.map(([, name, p]) => `nn.init.calculate_gain('${name}'${p === undefined ? "" : `, ${p}`})`).join(", ")}]`,
    });
    expect(GAINS.map(([n, , p]) => calculateGain(n, p))).toEqual(r.values.out);
  });

  it("calculateFanInAndFanOut for linear and convolution weights", async () => {
    const shapes = [[5, 4], [6, 3, 5, 5], [4, 2, 3], [8, 1, 1, 1]];
    const r = await oracle().run({
      code: `out = [list(nn.init._calculate_fan_in_and_fan_out(torch.empty(*s))) for s in shapes]`,
      inputs: { shapes },
    });
    expect(shapes.map((s) => Object.values(calculateFanInAndFanOut(Tensor.zeros(s))))).toEqual(r.values.out);
  });

  const fills: [string, (t: Tensor, g: Generator) => Tensor, string][] = [
    ["uniform(-0.3, 0.7)", (t, g) => uniform(t, -0.3, 0.7, { generator: g }), "nn.init.uniform_(t, -0.3, 0.7)"],
    ["normal(0.5, 2)", (t, g) => normal(t, 0.5, 2, { generator: g }), "nn.init.normal_(t, 0.5, 2)"],
    ["kaimingUniform default", (t, g) => kaimingUniform(t, { generator: g }), "nn.init.kaiming_uniform_(t)"],
    ["kaimingUniform a=√5 (Linear, Conv2d)", (t, g) => kaimingUniform(t, { a: Math.sqrt(5), generator: g }), "nn.init.kaiming_uniform_(t, a=math.sqrt(5))"],
    ["kaimingUniform fanOut relu", (t, g) => kaimingUniform(t, { mode: "fanOut", nonlinearity: "relu", generator: g }), "nn.init.kaiming_uniform_(t, mode='fan_out', nonlinearity='relu')"],
    ["kaimingNormal default", (t, g) => kaimingNormal(t, { generator: g }), "nn.init.kaiming_normal_(t)"],
    ["kaimingNormal fanOut leakyRelu 0.1", (t, g) => kaimingNormal(t, { a: 0.1, mode: "fanOut", generator: g }), "nn.init.kaiming_normal_(t, a=0.1, mode='fan_out')"],
    ["xavierUniform", (t, g) => xavierUniform(t, { generator: g }), "nn.init.xavier_uniform_(t)"],
    ["xavierUniform gain 2", (t, g) => xavierUniform(t, { gain: 2, generator: g }), "nn.init.xavier_uniform_(t, gain=2)"],
    ["xavierNormal gain 0.5", (t, g) => xavierNormal(t, { gain: 0.5, generator: g }), "nn.init.xavier_normal_(t, gain=0.5)"],
  ];
  for (const [label, pico, torch] of fills) {
    it(`${label}: same bound and spread as torch`, async () => {
      const mine = stats(pico(Tensor.zeros(SHAPE, { dtype: "float64" }), new Generator(1)));
      const r = await oracle().run({
        code: `t = torch.empty(${SHAPE.join(", ")}, dtype=torch.float64)\n${torch}\nmx = float(t.abs().max())\nsd = float(t.std(unbiased=False))`,
        outputs: ["mx", "sd"],
      });
      const uniformLike = !label.includes("ormal");
      if (uniformLike) expect(Math.abs(mine.max / r.number("mx") - 1)).toBeLessThan(1e-3);
      expect(Math.abs(mine.std / r.number("sd") - 1)).toBeLessThan(1e-2);
    });
  }
});
