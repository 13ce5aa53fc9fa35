import { Generator, Tensor, kernels, noGrad, tensor, tracer } from "@pico/core";
import type { FloatArray } from "@pico/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Linear } from "../layers/linear.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { values } from "../test-utils/tensors.js";
import { IN_PLACE_PATTERNS, forwardInPlace } from "./in-place.js";

/** A user's ReLU that keeps ReLU's forward and does not repeat the keepsNoReferences declaration. */
class MyReLU extends ReLU {}

/** Keeps ReLU's forward and repeats the declaration. */
class DeclaredReLU extends ReLU {
  static override keepsNoReferences = true;
}

/** Overrides forward (here only to count its calls): it may compute anything, so it is never run in place. */
class CountingReLU extends ReLU {
  static override keepsNoReferences = true;
  calls = 0;
  override forward(input: Tensor): Tensor {
    this.calls += 1;
    return super.forward(input);
  }
}

const linear = (seed: number): Linear => new Linear(6, 6, { generator: new Generator(seed) });

/** Runs `model` under noGrad and reports the arrays relu wrote over its own input and the arrays the chain recycled. */
function observe(model: Sequential, x: Tensor): { out: number[]; inPlace: FloatArray[]; recycled: FloatArray[] } {
  const inPlace: FloatArray[] = [];
  const unary = kernels.unary;
  vi.spyOn(kernels, "unary").mockImplementation((op, a, into) => {
    if (op === "relu" && into === a) inPlace.push(a.data);
    return unary(op, a, into);
  });
  const recycled: FloatArray[] = [];
  const recycle = tracer.recycle.bind(tracer);
  vi.spyOn(tracer, "recycle").mockImplementation((array: FloatArray) => {
    recycled.push(array);
    return recycle(array);
  });
  const out = values(noGrad(() => model.forward(x)));
  vi.restoreAllMocks();
  return { out, inPlace, recycled };
}

afterEach(() => {
  vi.restoreAllMocks();
  Sequential.recycling = true;
  Sequential.fusion = true;
});

describe("IN_PLACE_PATTERNS", () => {
  it("lists ReLU, matched as the fusion patterns match: the class's own forward, not the exact class", () => {
    expect(IN_PLACE_PATTERNS.map((p) => [p.name, p.module])).toEqual([["ReLU", ReLU]]);
    const x = tensor([-1, 2, -3]);
    expect(noGrad(() => forwardInPlace(new CountingReLU(), x))).toBe(false);
    expect(values(x)).toEqual([-1, 2, -3]);
    expect(noGrad(() => forwardInPlace(new MyReLU(), x))).toBe(true);
    expect(values(x)).toEqual([0, 2, 0]);
    const strided = tensor([[-1, 2], [3, -4]]).transpose(0, 1);
    expect(noGrad(() => forwardInPlace(new ReLU(), strided))).toBe(false);
  });

  it("runs a user's ReLU subclass that keeps ReLU's forward in place in a Sequential, and one that overrides forward as itself", () => {
    const x = Tensor.randn([4, 6], { generator: new Generator(1) });
    const build = (act: () => ReLU): Sequential => new Sequential(linear(2), act(), linear(3), act(), linear(4));
    Sequential.recycling = false;
    const expected = values(noGrad(() => build(() => new ReLU()).forward(x)));
    Sequential.recycling = true;
    for (const act of [() => new ReLU(), () => new MyReLU(), () => new DeclaredReLU()]) {
      const { out, inPlace } = observe(build(act), x);
      expect(out).toEqual(expected);
      expect(inPlace.length).toBe(2);
    }
    const counting = build(() => new CountingReLU());
    const { out, inPlace } = observe(counting, x);
    expect(out).toEqual(expected);
    expect(inPlace.length).toBe(0);
    expect((counting.at(1) as CountingReLU).calls).toBe(1);
  });

  it("leaves the in-place result recyclable further on only when the module's class declares keepsNoReferences", () => {
    const x = Tensor.randn([4, 6], { generator: new Generator(5) });
    const declared = observe(new Sequential(linear(6), new DeclaredReLU(), linear(7), linear(8)), x);
    expect(declared.inPlace.length).toBe(1);
    expect(declared.recycled).toContain(declared.inPlace[0]);
    const undeclared = observe(new Sequential(linear(6), new MyReLU(), linear(7), linear(8)), x);
    expect(undeclared.inPlace.length).toBe(1);
    expect(undeclared.recycled).not.toContain(undeclared.inPlace[0]);
    expect(undeclared.out).toEqual(declared.out);
  });

  it("a ReLU in place on a BatchNorm's output, then a BatchNorm: the module-by-module result (the second BatchNorm normalises the ReLU's values)", () => {
    const x = Tensor.randn([1, 16, 8, 8], { generator: new Generator(1) });
    const build = (): Sequential => {
      const model = new Sequential(new BatchNorm2d(16), new ReLU(), new BatchNorm2d(16));
      model.eval();
      return model;
    };
    const byModule = build();
    const [bn1, relu, bn2] = [...byModule] as [BatchNorm2d, ReLU, BatchNorm2d];
    const expected = values(noGrad(() => bn2.forward(relu.forward(bn1.forward(x)))));
    Sequential.fusion = false;
    const { out, inPlace } = observe(build(), x);
    expect(inPlace.length).toBe(1);
    // Eval BatchNorms with fresh running statistics are the identity up to 1/sqrt(1 + eps): nothing below 0 after the ReLU.
    expect(Math.min(...out)).toBe(0);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });
});
