import { ArgumentError, type Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Adam } from "./adam.js";
import { adamByHand } from "./test-utils/adam-by-hand.js";
import { byStep, expectTrace } from "./test-utils/expect-trace.js";
import { quadratic, run } from "./test-utils/quadratic.js";

// f(x) = 1·x0² + 3·x1², grad = [2·x0, 6·x1], from x = [1, -2].
const A = [1, 3];
const X0 = [1, -2];

describe("Adam", () => {
  it("first step moves each coordinate by lr against the sign of its gradient (m̂ = g, v̂ = g²)", () => {
    const { x, backward } = quadratic(A, X0);
    const [x1] = run(new Adam([x], { lr: 0.1 }), backward, x, 1);
    // g = [2, -12]: x1 = x0 - 0.1 · g / (|g| + 1e-8)
    expect(x1![0]).toBeCloseTo(1 - (0.1 * 2) / (2 + 1e-8), 14);
    expect(x1![1]).toBeCloseTo(-2 - (0.1 * -12) / (12 + 1e-8), 14);
  });

  it("lr=0.1 betas=[0.9, 0.999]: three steps with bias-corrected moments", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new Adam([x], { lr: 0.1 });
    const hand = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    expectTrace(run(opt, backward, x, 3), byStep([adamByHand(1, 1, hand), adamByHand(3, -2, hand)]));
  });

  it("defaults: lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weightDecay=0, amsgrad=false", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new Adam([x]);
    const { params: _, ...options } = opt.paramGroups[0]!;
    expect(options).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    const hand = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    expectTrace(run(opt, backward, x, 3), byStep([adamByHand(1, 1, hand), adamByHand(3, -2, hand)]), 14);
  });

  it("weightDecay=0.5 adds 0.5·x to the gradient (L2, coupled)", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new Adam([x], { lr: 0.1, betas: [0.8, 0.9], eps: 1e-3, weightDecay: 0.5 });
    const hand = { lr: 0.1, beta1: 0.8, beta2: 0.9, eps: 1e-3, wd: 0.5 };
    expectTrace(run(opt, backward, x, 3), byStep([adamByHand(1, 1, hand), adamByHand(3, -2, hand)]));
  });

  it("amsgrad uses the running maximum of v once v falls (β2 = 0.5 makes it fall)", () => {
    const hand = { lr: 0.3, beta1: 0.9, beta2: 0.5, eps: 1e-8 };
    const ams = quadratic(A, X0);
    const plain = quadratic(A, X0);
    const withMax = run(new Adam([ams.x], { lr: 0.3, betas: [0.9, 0.5], amsgrad: true }), ams.backward, ams.x, 3);
    const without = run(new Adam([plain.x], { lr: 0.3, betas: [0.9, 0.5] }), plain.backward, plain.x, 3);
    expectTrace(withMax, byStep([adamByHand(1, 1, { ...hand, amsgrad: true }), adamByHand(3, -2, { ...hand, amsgrad: true })]));
    expectTrace(without, byStep([adamByHand(1, 1, hand), adamByHand(3, -2, hand)]));
    expect(Math.abs(withMax[2]![0]! - without[2]![0]!)).toBeGreaterThan(1e-3);
  });

  it("float32 parameters agree with the float64 hand computation to float32 precision", () => {
    const { x, backward } = quadratic(A, X0, "float32");
    const hand = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    expectTrace(run(new Adam([x], { lr: 0.1 }), backward, x, 3), byStep([adamByHand(1, 1, hand), adamByHand(3, -2, hand)]), 5);
  });

  it("keeps step, expAvg and expAvgSq per parameter", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new Adam([x], { lr: 0.1 });
    run(opt, backward, x, 2);
    const s = opt.stateDict().state[0]!;
    expect(s["step"]).toBe(2);
    // m2 = 0.9 · 0.1 · g1 + 0.1 · g2 with g1 = [2, -12], g2 = 2·a·x1 = [1.8, -11.4]
    const m = (s["expAvg"] as Tensor).toArray() as number[];
    expect(m[0]).toBeCloseTo(0.9 * 0.1 * 2 + 0.1 * 2 * (1 - 0.1 * 2 / (2 + 1e-8)), 12);
  });

  it("validates its hyperparameters", () => {
    const { x } = quadratic(A, X0);
    expect(() => new Adam([x], { lr: 0 })).toThrow(ArgumentError);
    expect(() => new Adam([x], { lr: 0 })).toThrow("Adam: lr must be a finite number > 0, but got 0");
    expect(() => new Adam([x], { betas: [1, 0.999] })).toThrow("Adam: betas[0] must be a number in [0, 1), but got 1");
    expect(() => new Adam([x], { betas: [0.9, -0.1] })).toThrow("Adam: betas[1] must be a number in [0, 1), but got -0.1");
    expect(() => new Adam([x], { betas: [0.9] as unknown as [number, number] })).toThrow("Adam: betas must be a pair [beta1, beta2], but got [0.9]");
    expect(() => new Adam([x], { eps: -1e-8 })).toThrow("Adam: eps must be a finite number >= 0, but got -1e-8");
    expect(() => new Adam([x], { weightDecay: Infinity })).toThrow("Adam: weightDecay must be a finite number >= 0, but got Infinity");
    expect(() => new Adam([x], { amsgrad: 1 as unknown as boolean })).toThrow("Adam: amsgrad must be true or false, but got 1");
  });
});
