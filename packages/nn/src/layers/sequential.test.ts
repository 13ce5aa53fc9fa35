import { ArgumentError, Generator, Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { linear } from "../functional/linear.js";
import { values } from "../test-utils/tensors.js";
import { Linear } from "./linear.js";
import { ReLU } from "./relu.js";
import { Sequential } from "./sequential.js";

describe("Sequential", () => {
  it("feeds each module's output to the next", () => {
    const generator = new Generator(1);
    const a = new Linear(3, 4, { generator });
    const b = new Linear(4, 2, { generator });
    const seq = new Sequential(a, new ReLU(), b);
    const x = Tensor.randn([5, 3]);
    expect(values(seq.forward(x))).toEqual(values(linear(linear(x, a.weight, a.bias).relu(), b.weight, b.bias)));
    expect(values(seq.call(x))).toEqual(values(seq.forward(x)));
  });

  it("appends, indexes and nests", () => {
    const inner = new Sequential(new Linear(2, 2));
    const seq = new Sequential().append(inner).append(new ReLU());
    expect(seq.length).toBe(2);
    expect(seq.at(0)).toBe(inner);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(["0.0.weight", "0.0.bias"]);
    expect(() => seq.at(2)).toThrow("Sequential.at: index must be an integer in [-2, 1], but got 2");
    expect(() => new Sequential(3 as unknown as ReLU)).toThrow(ArgumentError);
  });

  it("an empty Sequential is the identity", () => {
    const x = Tensor.ones([2]);
    expect(new Sequential().forward(x)).toBe(x);
  });
});
