import { ArgumentError } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Momentum } from "./momentum.js";
import { expectTrace } from "./test-utils/expect-trace.js";
import { quadratic, run } from "./test-utils/quadratic.js";

// f(x) = 1·x0² + 3·x1², grad = [2·x0, 6·x1], from x = [1, -2], lr = 0.1, μ = 0.9.
const A = [1, 3];
const X0 = [1, -2];

describe("Momentum", () => {
  it("PyTorch's update: buf = g first, then buf = 0.9·buf + g; x -= 0.1·buf", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new Momentum([x], { lr: 0.1 });
    expect(opt.paramGroups[0]!.momentum).toBe(0.9);
    // step 1: g = [2, -12], buf = [2, -12]                 -> x = [0.8, -0.8]
    // step 2: g = [1.6, -4.8], buf = [3.4, -15.6]           -> x = [0.46, 0.76]
    // step 3: g = [0.92, 4.56], buf = [3.98, -9.48]         -> x = [0.062, 1.708]
    expectTrace(run(opt, backward, x, 3), [
      [1 - 0.1 * 2, -2 - 0.1 * -12],
      [0.8 - 0.1 * (0.9 * 2 + 1.6), -0.8 - 0.1 * (0.9 * -12 - 4.8)],
      [0.46 - 0.1 * (0.9 * 3.4 + 0.92), 0.76 - 0.1 * (0.9 * -15.6 + 4.56)],
    ]);
  });

  it("dampening=0.5 scales the new gradient from the second step on (the first buf is g itself)", () => {
    const { x, backward } = quadratic(A, X0);
    // step 1: buf = [2, -12]                               -> x = [0.8, -0.8]
    // step 2: g = [1.6, -4.8], buf = 0.9·buf + 0.5·g = [2.6, -13.2]   -> x = [0.54, 0.52]
    // step 3: g = [1.08, 3.12], buf = [2.88, -10.32]       -> x = [0.252, 1.552]
    expectTrace(run(new Momentum([x], { lr: 0.1, dampening: 0.5 }), backward, x, 3), [
      [0.8, -0.8],
      [0.8 - 0.1 * (0.9 * 2 + 0.5 * 1.6), -0.8 - 0.1 * (0.9 * -12 + 0.5 * -4.8)],
      [0.54 - 0.1 * (0.9 * 2.6 + 0.5 * 1.08), 0.52 - 0.1 * (0.9 * -13.2 + 0.5 * 3.12)],
    ]);
  });

  it("nesterov: x -= 0.1·(g + 0.9·buf)", () => {
    const { x, backward } = quadratic(A, X0);
    // step 1: g = [2, -12], buf = [2, -12], d = [3.8, -22.8]          -> x = [0.62, 0.28]
    // step 2: g = [1.24, 1.68], buf = [3.04, -9.12], d = [3.976, -6.528] -> x = [0.2224, 0.9328]
    // step 3: g = [0.4448, 5.5968], buf = [3.1808, -2.6112], d = [3.30752, 3.24672] -> x = [-0.108352, 0.608128]
    expectTrace(run(new Momentum([x], { lr: 0.1, nesterov: true }), backward, x, 3), [
      [1 - 0.1 * (2 + 0.9 * 2), -2 - 0.1 * (-12 + 0.9 * -12)],
      [0.62 - 0.1 * (1.24 + 0.9 * (0.9 * 2 + 1.24)), 0.28 - 0.1 * (1.68 + 0.9 * (0.9 * -12 + 1.68))],
      [0.2224 - 0.1 * (0.4448 + 0.9 * (0.9 * 3.04 + 0.4448)), 0.9328 - 0.1 * (5.5968 + 0.9 * (0.9 * -9.12 + 5.5968))],
    ]);
  });

  it("weightDecay=0.5 adds 0.5·x to the gradient before the momentum buffer", () => {
    const { x, backward } = quadratic(A, X0);
    // step 1: d = [2.5, -13], buf = d                       -> x = [0.75, -0.7]
    // step 2: d = [1.875, -4.55], buf = [4.125, -16.25]     -> x = [0.3375, 0.925]
    // step 3: d = [0.84375, 5.9125], buf = [4.55625, -8.7125] -> x = [-0.118125, 1.78625]
    expectTrace(run(new Momentum([x], { lr: 0.1, weightDecay: 0.5 }), backward, x, 3), [
      [1 - 0.1 * (2 * 1 + 0.5 * 1), -2 - 0.1 * (6 * -2 + 0.5 * -2)],
      [0.75 - 0.1 * (0.9 * 2.5 + (2 * 0.75 + 0.5 * 0.75)), -0.7 - 0.1 * (0.9 * -13 + (6 * -0.7 + 0.5 * -0.7))],
      [0.3375 - 0.1 * (0.9 * 4.125 + 2.5 * 0.3375), 0.925 - 0.1 * (0.9 * -16.25 + 6.5 * 0.925)],
    ]);
  });

  it("validates its hyperparameters", () => {
    const { x } = quadratic(A, X0);
    expect(() => new Momentum([x], { lr: 0.1, momentum: -1 })).toThrow(ArgumentError);
    expect(() => new Momentum([x], { lr: 0.1, momentum: -1 })).toThrow("Momentum: momentum must be a finite number >= 0, but got -1");
    expect(() => new Momentum([x], { lr: 0.1, dampening: 2 })).toThrow("Momentum: dampening must be a number in [0, 1], but got 2");
    expect(() => new Momentum([x], { lr: 0.1, nesterov: true, dampening: 0.1 })).toThrow(
      "Momentum: nesterov needs momentum > 0 and dampening = 0, but got momentum 0.9 and dampening 0.1",
    );
    expect(() => new Momentum([x], { lr: -1 })).toThrow("Momentum: lr must be a finite number > 0, but got -1");
  });
});
