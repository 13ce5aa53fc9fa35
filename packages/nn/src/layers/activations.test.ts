import { Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { Flatten } from "./flatten.js";
import { Identity } from "./identity.js";
import { LeakyReLU } from "./leaky-relu.js";
import { LogSoftmax } from "./log-softmax.js";
import { ReLU } from "./relu.js";
import { Sigmoid } from "./sigmoid.js";
import { Softmax } from "./softmax.js";
import { Tanh } from "./tanh.js";

describe("activation layers", () => {
  const x = tensor([-2, -0.5, 0, 1.5], { dtype: "float64" });

  it("ReLU, LeakyReLU, Sigmoid and Tanh apply their function elementwise", () => {
    expect(values(new ReLU().forward(x))).toEqual([0, 0, 0, 1.5]);
    expectClose(values(new LeakyReLU(0.2).forward(x)), [-0.4, -0.1, 0, 1.5], "leaky");
    expectClose(values(new Sigmoid().forward(x)), [-2, -0.5, 0, 1.5].map((v) => 1 / (1 + Math.exp(-v))), "sigmoid");
    expectClose(values(new Tanh().forward(x)), [-2, -0.5, 0, 1.5].map(Math.tanh), "tanh");
    expect(new LeakyReLU().negativeSlope).toBe(0.01);
    expect(new LeakyReLU(0.2).toString()).toBe("LeakyReLU(negativeSlope=0.2)");
  });

  it("Softmax and LogSoftmax work along the given axis", () => {
    const m = randn([2, 3], 1);
    const p = values(new Softmax(0).forward(m));
    for (let j = 0; j < 3; j++) expect(p[j]! + p[3 + j]!).toBeCloseTo(1, 12);
    const logp = values(new LogSoftmax(1).forward(m));
    expectClose(logp, values(new Softmax(1).forward(m)).map(Math.log), "log of softmax", 1e-12);
    expect(new Softmax().axis).toBe(-1);
  });

  it("Flatten keeps the batch axis by default; Identity returns its input", () => {
    expect(new Flatten().forward(Tensor.zeros([2, 3, 4, 5])).shape).toEqual([2, 60]);
    expect(new Flatten(0).forward(Tensor.zeros([2, 3, 4])).shape).toEqual([24]);
    expect(new Flatten(1, 2).forward(Tensor.zeros([2, 3, 4, 5])).shape).toEqual([2, 12, 5]);
    expect(new Identity().forward(x)).toBe(x);
  });
});
