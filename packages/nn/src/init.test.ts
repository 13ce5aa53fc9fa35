import { ArgumentError, Generator, Tensor, tracer } from "@pico/core";
import { describe, expect, it } from "vitest";
import {
  calculateFanInAndFanOut,
  calculateGain,
  constant,
  kaimingNormal,
  kaimingUniform,
  normal,
  ones,
  uniform,
  xavierNormal,
  xavierUniform,
  zeros,
} from "./init.js";
import { Parameter } from "./parameter.js";
import { values } from "./test-utils/tensors.js";

function moments(t: Tensor): { mean: number; variance: number; maxAbs: number } {
  const v = values(t);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, variance, maxAbs: Math.max(...v.map(Math.abs)) };
}

describe("init", () => {
  it("calculateGain matches torch.nn.init.calculate_gain", () => {
    expect(calculateGain("linear")).toBe(1);
    expect(calculateGain("conv2d")).toBe(1);
    expect(calculateGain("sigmoid")).toBe(1);
    expect(calculateGain("tanh")).toBeCloseTo(5 / 3, 15);
    expect(calculateGain("relu")).toBeCloseTo(Math.sqrt(2), 15);
    expect(calculateGain("leakyRelu")).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(calculateGain("leakyRelu", Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(calculateGain("selu")).toBe(0.75);
    expect(() => calculateGain("gelu" as "relu")).toThrow('calculateGain: unsupported nonlinearity "gelu"');
  });

  it("computes fans from [out, in] and [outC, inC, kH, kW]", () => {
    expect(calculateFanInAndFanOut(Tensor.zeros([120, 256]))).toEqual({ fanIn: 256, fanOut: 120 });
    expect(calculateFanInAndFanOut(Tensor.zeros([16, 8, 5, 3]))).toEqual({ fanIn: 8 * 15, fanOut: 16 * 15 });
    expect(() => calculateFanInAndFanOut(Tensor.zeros([5]))).toThrow(ArgumentError);
    expect(() => calculateFanInAndFanOut(Tensor.zeros([5]))).toThrow("fewer than 2 dimensions, but got shape [5]");
  });

  it("kaimingUniform draws U(±gain·sqrt(3 / fan)), for fanIn and fanOut", () => {
    const t = kaimingUniform(Tensor.zeros([200, 300]), { generator: new Generator(1) });
    const bound = Math.sqrt(2) * Math.sqrt(3 / 300);
    const m = moments(t);
    expect(m.maxAbs).toBeLessThanOrEqual(bound);
    expect(m.maxAbs).toBeGreaterThan(0.99 * bound);
    expect(m.variance).toBeCloseTo((bound * bound) / 3, 4);
    const out = kaimingUniform(Tensor.zeros([50, 400]), { mode: "fanOut", nonlinearity: "relu", generator: new Generator(2) });
    expect(moments(out).maxAbs).toBeLessThanOrEqual(Math.sqrt(2) * Math.sqrt(3 / 50));
    expect(moments(out).maxAbs).toBeGreaterThan(0.99 * Math.sqrt(2) * Math.sqrt(3 / 50));
  });

  it("kaimingNormal and xavierNormal have the right standard deviation", () => {
    const k = moments(kaimingNormal(Tensor.zeros([300, 200]), { nonlinearity: "relu", generator: new Generator(3) }));
    expect(Math.abs(k.mean)).toBeLessThan(0.003);
    expect(Math.sqrt(k.variance) / Math.sqrt(2 / 200)).toBeCloseTo(1, 1);
    const x = moments(xavierNormal(Tensor.zeros([300, 200]), { gain: 2, generator: new Generator(4) }));
    expect(Math.sqrt(x.variance) / (2 * Math.sqrt(2 / 500))).toBeCloseTo(1, 1);
  });

  it("xavierUniform draws U(±gain·sqrt(6 / (fanIn + fanOut)))", () => {
    const bound = Math.sqrt(6 / (20 * 9 + 30 * 9));
    const m = moments(xavierUniform(Tensor.zeros([30, 20, 3, 3]), { generator: new Generator(5) }));
    expect(m.maxAbs).toBeLessThanOrEqual(bound);
    expect(m.maxAbs).toBeGreaterThan(0.99 * bound);
  });

  it("uniform, normal, constant, zeros and ones fill in place and return the tensor", () => {
    const t = Tensor.zeros([1000]);
    expect(uniform(t, 2, 3, { generator: new Generator(1) })).toBe(t);
    expect(values(t).every((v) => v >= 2 && v < 3)).toBe(true);
    const n = moments(normal(Tensor.zeros([20000]), 5, 2, { generator: new Generator(2) }));
    expect(n.mean).toBeCloseTo(5, 1);
    expect(Math.sqrt(n.variance)).toBeCloseTo(2, 1);
    expect(values(constant(Tensor.zeros([3]), 1.5))).toEqual([1.5, 1.5, 1.5]);
    expect(values(ones(Tensor.zeros([2])))).toEqual([1, 1]);
    expect(values(zeros(Tensor.ones([2])))).toEqual([0, 0]);
    expect(() => uniform(t, 3, 2)).toThrow("init.uniform: need a <= b, but got a=3, b=2");
  });

  it("is reproducible for a seed and does not record anything for parameters that require grad", () => {
    const before = tracer.stats();
    const a = kaimingUniform(new Parameter(Tensor.zeros([4, 5])), { a: Math.sqrt(5), generator: new Generator(9) });
    const b = kaimingUniform(new Parameter(Tensor.zeros([4, 5])), { a: Math.sqrt(5), generator: new Generator(9) });
    expect(values(a)).toEqual(values(b));
    expect(a.creator).toBeNull();
    expect(a.requiresGrad).toBe(true);
    expect(tracer.stats()).toEqual(before);
  });

  it("fills a strided view in the view's row-major order", () => {
    const base = Tensor.zeros([2, 3]);
    const view = new Tensor(base.data.transpose(1, 0));
    uniform(view, 0, 1, { generator: new Generator(3) });
    const direct = uniform(Tensor.zeros([3, 2]), 0, 1, { generator: new Generator(3) });
    expect(values(view)).toEqual(values(direct));
  });
});
