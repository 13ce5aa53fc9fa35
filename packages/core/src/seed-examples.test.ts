import { describe, expect, it } from "vitest";
import { tensor } from "./index.js";

// The worked examples of the articles in docs/origins.md, as golden tests.
describe("seed examples", () => {
  it("Pico: A=2.5, B=0.5, O=A/B gives dA=2, dB=-10", () => {
    const a = tensor(2.5, { requiresGrad: true });
    const b = tensor(0.5, { requiresGrad: true });
    const o = a.div(b);
    expect(o.item()).toBe(5);
    o.backward();
    expect(a.grad!.item()).toBeCloseTo(2, 6);
    expect(b.grad!.item()).toBeCloseTo(-10, 5);
  });

  it("a=2, b=3, x=a*b, z=x+x gives a.grad=6, b.grad=4", () => {
    const a = tensor(2, { requiresGrad: true });
    const b = tensor(3, { requiresGrad: true });
    const x = a.mul(b);
    const z = x.add(x);
    z.backward();
    expect(a.grad!.item()).toBe(6);
    expect(b.grad!.item()).toBe(4);
  });

  it("x=2, y=x*x+x*x gives x.grad=8", () => {
    const x = tensor(2, { requiresGrad: true });
    const y = x.mul(x).add(x.mul(x));
    y.backward();
    expect(x.grad!.item()).toBe(8);
  });

  it("x.add(x.mul(x)) accumulates through a tensor used twice", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.add(x.mul(x)).sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 5, 7]);
  });
});
