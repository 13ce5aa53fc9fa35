import { Generator, Tensor, noGrad } from "@pico/core";
import { describe, expect, it } from "vitest";
import { referenceCnn } from "./reference-cnn.js";

describe("referenceCnn", () => {
  it("maps [N, 1, 28, 28] to 10 logits with 35,474 parameters, reproducibly from a generator", () => {
    const model = referenceCnn(new Generator(5));
    expect(model.parameters().reduce((n, p) => n + p.size, 0)).toBe(35_474);
    const out = noGrad(() => model.forward(Tensor.randn([3, 1, 28, 28])));
    expect(out.shape).toEqual([3, 10]);
    const again = referenceCnn(new Generator(5)).stateDict();
    for (const [name, t] of Object.entries(model.stateDict())) expect(again[name]!.toArray()).toEqual(t.toArray());
  });
});
