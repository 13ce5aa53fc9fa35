import { describe, expect, it } from "vitest";
import { Adam } from "./adam.js";
import { AdamW } from "./adamw.js";
import { adamByHand } from "./test-utils/adam-by-hand.js";
import { byStep, expectTrace } from "./test-utils/expect-trace.js";
import { quadratic, run } from "./test-utils/quadratic.js";

// f(x) = 1·x0² + 3·x1², grad = [2·x0, 6·x1], from x = [1, -2].
const A = [1, 3];
const X0 = [1, -2];

describe("AdamW", () => {
  it("defaults to weightDecay = 1e-2", () => {
    const { x } = quadratic(A, X0);
    const { params: _, ...options } = new AdamW([x]).paramGroups[0]!;
    expect(options).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false });
  });

  it("first step: x1 = x0·(1 - lr·wd) - lr·sign(g)", () => {
    const { x, backward } = quadratic(A, X0);
    const [x1] = run(new AdamW([x], { lr: 0.1, weightDecay: 0.5 }), backward, x, 1);
    expect(x1![0]).toBeCloseTo(1 * (1 - 0.1 * 0.5) - (0.1 * 2) / (2 + 1e-8), 14);
    expect(x1![1]).toBeCloseTo(-2 * (1 - 0.1 * 0.5) - (0.1 * -12) / (12 + 1e-8), 14);
  });

  it("decoupled decay: three steps, different from Adam's L2 decay", () => {
    const hand = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.5 };
    const w = quadratic(A, X0);
    const traceW = run(new AdamW([w.x], { lr: 0.1, weightDecay: 0.5 }), w.backward, w.x, 3);
    expectTrace(traceW, byStep([adamByHand(1, 1, { ...hand, decoupled: true }), adamByHand(3, -2, { ...hand, decoupled: true })]));
    const l2 = quadratic(A, X0);
    const traceL2 = run(new Adam([l2.x], { lr: 0.1, weightDecay: 0.5 }), l2.backward, l2.x, 3);
    expect(Math.abs(traceW[2]![0]! - traceL2[2]![0]!)).toBeGreaterThan(1e-3);
  });

  it("amsgrad with decoupled decay", () => {
    const hand = { lr: 0.3, beta1: 0.9, beta2: 0.5, eps: 1e-8, wd: 0.1, decoupled: true, amsgrad: true };
    const { x, backward } = quadratic(A, X0);
    const trace = run(new AdamW([x], { lr: 0.3, betas: [0.9, 0.5], weightDecay: 0.1, amsgrad: true }), backward, x, 3);
    expectTrace(trace, byStep([adamByHand(1, 1, hand), adamByHand(3, -2, hand)]));
  });

  it("validates with its own name", () => {
    const { x } = quadratic(A, X0);
    expect(() => new AdamW([x], { weightDecay: -0.01 })).toThrow("AdamW: weightDecay must be a finite number >= 0, but got -0.01");
  });
});
