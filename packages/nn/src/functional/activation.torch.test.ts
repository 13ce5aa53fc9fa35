import { Generator, type Tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { Dropout } from "../layers/dropout.js";
import { Flatten } from "../layers/flatten.js";
import { Identity } from "../layers/identity.js";
import { LeakyReLU } from "../layers/leaky-relu.js";
import { LogSoftmax } from "../layers/log-softmax.js";
import { ReLU } from "../layers/relu.js";
import { Sigmoid } from "../layers/sigmoid.js";
import { Softmax } from "../layers/softmax.js";
import { Tanh } from "../layers/tanh.js";
import { logSoftmax, relu, sigmoid, softmax, tanh } from "./activation.js";
import { dropout } from "./dropout.js";
import { flatten } from "./flatten.js";
import { leakyRelu } from "./leaky-relu.js";
import { linear } from "./linear.js";
import { softplus } from "./softplus.js";

type Unary = (a: Tensor) => Tensor;

// Inputs stay 0.05 away from 0 where the function has a kink (relu, leaky relu).
const activations: [string, Unary, string, { avoid?: number[]; low?: number; high?: number }?][] = [
  ["relu", (a) => relu(a), "F.relu(a)", { avoid: [0] }],
  ["ReLU", (a) => new ReLU().forward(a), "nn.ReLU()(a)", { avoid: [0] }],
  ["sigmoid", (a) => sigmoid(a), "torch.sigmoid(a)", { low: -8, high: 8 }],
  ["Sigmoid", (a) => new Sigmoid().forward(a), "nn.Sigmoid()(a)"],
  ["tanh", (a) => tanh(a), "torch.tanh(a)", { low: -4, high: 4 }],
  ["Tanh", (a) => new Tanh().forward(a), "nn.Tanh()(a)"],
  ["leakyRelu default slope", (a) => leakyRelu(a), "F.leaky_relu(a)", { avoid: [0] }],
  ["leakyRelu 0.2", (a) => leakyRelu(a, 0.2), "F.leaky_relu(a, 0.2)", { avoid: [0] }],
  ["LeakyReLU 1.5", (a) => new LeakyReLU(1.5).forward(a), "nn.LeakyReLU(1.5)(a)", { avoid: [0] }],
  ["softplus", (a) => softplus(a), "F.softplus(a)", { low: -30, high: 30, avoid: [20] }],
  ["softplus beta 2 threshold 5", (a) => softplus(a, { beta: 2, threshold: 5 }), "F.softplus(a, beta=2, threshold=5)", { low: -6, high: 6, avoid: [2.5] }],
  ["softplus beta 0.5", (a) => softplus(a, { beta: 0.5 }), "F.softplus(a, beta=0.5)", { low: -50, high: 50, avoid: [40] }],
  ["softmax last axis", (a) => softmax(a), "F.softmax(a, dim=-1)"],
  ["softmax axis 1", (a) => softmax(a, 1), "F.softmax(a, dim=1)"],
  ["Softmax axis 0", (a) => new Softmax(0).forward(a), "nn.Softmax(dim=0)(a)"],
  ["logSoftmax last axis", (a) => logSoftmax(a), "F.log_softmax(a, dim=-1)"],
  ["logSoftmax axis 1, large values", (a) => logSoftmax(a, 1), "F.log_softmax(a, dim=1)", { low: -500, high: 500 }],
  ["LogSoftmax axis -2", (a) => new LogSoftmax(-2).forward(a), "nn.LogSoftmax(dim=-2)(a)"],
  ["flatten", (a) => flatten(a), "torch.flatten(a, 1)"],
  ["flatten 0..-2", (a) => flatten(a, 0, -2), "torch.flatten(a, 0, -2)"],
  ["Flatten(2, 3)", (a) => new Flatten(2, 3).forward(a), "nn.Flatten(2, 3)(a)"],
  ["Identity", (a) => new Identity().forward(a), "nn.Identity()(a)"],
  ["dropout, training false", (a) => dropout(a, 0.5, { training: false }), "F.dropout(a, 0.5, training=False)"],
  ["Dropout in eval", (a) => new Dropout(0.3).eval().forward(a), "nn.Dropout(0.3).eval()(a)"],
  ["dropout p=0", (a) => dropout(a, 0), "F.dropout(a, 0.0)"],
];

describeTorch("activations and shape layers vs torch", () => {
  for (const [label, pico, torch, options] of activations) {
    it(`${label} [3, 4, 5]`, () => compareWithTorch([[3, 4, 5, 2]], pico, torch, { ...options, label }));
    it(`${label} non-contiguous [4, 3, 2, 3]`, () => compareWithTorch([[4, 3, 2, 3]], pico, torch, { ...options, strided: true, label: `${label} strided` }));
  }
  for (const [label, pico, torch] of [
    ["relu", (a: Tensor) => relu(a), "F.relu(a)"],
    ["leakyRelu 0.1", (a: Tensor) => leakyRelu(a, 0.1), "F.leaky_relu(a, 0.1)"],
    ["LeakyReLU", (a: Tensor) => new LeakyReLU().forward(a), "nn.LeakyReLU()(a)"],
    ["softplus", (a: Tensor) => softplus(a), "F.softplus(a)"],
  ] as const) {
    it(`${label} at exactly 0 (the gradient at the kink is torch's)`, () => compareWithTorch([[4, 6]], pico, torch, { choices: [-1, 0, 0.5], label: `${label} at 0` }));
  }
  it("dropout p=1 in training zeroes everything, as torch", () =>
    compareWithTorch([[4, 5]], (a) => dropout(a, 1, { generator: new Generator(1) }), "F.dropout(a, 1.0)"));
});

describeTorch("linear and Linear vs torch: output, input, weight and bias gradients", () => {
  for (const [x, out] of [
    [[5, 4], 3],
    [[4], 3],
    [[2, 3, 6], 4],
    [[64, 256], 120],
  ] as const) {
    it(`linear x=${JSON.stringify(x)} out=${out}`, () =>
      compareWithTorch([x, [out, x[x.length - 1]!], [out]], (a, w, b) => linear(a, w, b), "F.linear(a, b, c)"));
    it(`linear without bias x=${JSON.stringify(x)}`, () => compareWithTorch([x, [out, x[x.length - 1]!]], (a, w) => linear(a, w), "F.linear(a, b)"));
  }
  it("linear, non-contiguous input and weight", () => compareWithTorch([[5, 4], [3, 4], [3]], (a, w, b) => linear(a, w, b), "F.linear(a, b, c)", { strided: true }));
});
