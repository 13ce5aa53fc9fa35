import { ArgumentError } from "@pico/core";
import { describe, expect, it } from "vitest";
import { SGD } from "./sgd.js";
import { expectTrace } from "./test-utils/expect-trace.js";
import { quadratic, run } from "./test-utils/quadratic.js";

// f(x) = 1·x0² + 3·x1², grad = [2·x0, 6·x1], from x = [1, -2].
const A = [1, 3];
const X0 = [1, -2];

describe("SGD", () => {
  it("lr=0.1: x -= 0.1 · 2ax", () => {
    const { x, backward } = quadratic(A, X0);
    const trace = run(new SGD([x], { lr: 0.1 }), backward, x, 3);
    expectTrace(trace, [
      [1 - 0.1 * 2, -2 - 0.1 * -12], // [0.8, -0.8]
      [0.8 - 0.1 * 1.6, -0.8 - 0.1 * -4.8], // [0.64, -0.32]
      [0.64 - 0.1 * 1.28, -0.32 - 0.1 * -1.92], // [0.512, -0.128]
    ]);
  });

  it("maximize: climbs the gradient, x += 0.1 · 2ax, weight decay still pulls towards 0", () => {
    const { x, backward } = quadratic(A, X0);
    const trace = run(new SGD([x], { lr: 0.1, maximize: true, weightDecay: 0.5 }), backward, x, 1);
    expectTrace(trace, [[1 - 0.1 * (-2 + 0.5), -2 - 0.1 * (12 - 1)]]);
    expect(() => new SGD([x], { lr: 0.1, maximize: 1 as unknown as boolean })).toThrow("SGD: maximize must be true or false");
  });

  it("loads a state dict saved before maximize existed (its groups lack the key), keeping maximize false", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new SGD([x], { lr: 0.1, momentum: 0.9 });
    run(opt, backward, x, 2);
    const dict = opt.stateDict();
    delete (dict.paramGroups[0] as Record<string, unknown>)["maximize"];
    const again = new SGD([x], { lr: 0.5 });
    again.loadStateDict(dict);
    expect(again.paramGroups[0]!.maximize).toBe(false);
    expect(again.paramGroups[0]!.lr).toBe(0.1);
  });

  it("lr=0.1 weightDecay=0.5: d = 2ax + 0.5x", () => {
    const { x, backward } = quadratic(A, X0);
    const trace = run(new SGD([x], { lr: 0.1, weightDecay: 0.5 }), backward, x, 2);
    expectTrace(trace, [
      [1 - 0.1 * (2 + 0.5), -2 - 0.1 * (-12 - 1)], // [0.75, -0.7]
      [0.75 - 0.1 * (1.5 + 0.375), -0.7 - 0.1 * (-4.2 - 0.35)], // [0.5625, -0.245]
    ]);
  });

  it("float32 parameters follow the same path to float32 precision", () => {
    const { x, backward } = quadratic(A, X0, "float32");
    const trace = run(new SGD([x], { lr: 0.1 }), backward, x, 3);
    expect(x.dtype).toBe("float32");
    expectTrace(trace, [[0.8, -0.8], [0.64, -0.32], [0.512, -0.128]], 6);
  });

  it("accepts momentum like torch.optim.SGD (PyTorch's v = μv + g)", () => {
    const { x, backward } = quadratic(A, X0);
    const trace = run(new SGD([x], { lr: 0.1, momentum: 0.9 }), backward, x, 2);
    expectTrace(trace, [
      [0.8, -0.8],
      [0.8 - 0.1 * (0.9 * 2 + 1.6), -0.8 - 0.1 * (0.9 * -12 + -4.8)], // [0.46, 0.76]
    ]);
  });

  it("does not mutate the gradient when applying weight decay", () => {
    const { x, backward } = quadratic(A, X0);
    const opt = new SGD([x], { lr: 0.1, weightDecay: 0.5 });
    backward();
    const before = Array.from(x.grad!.toTypedArray());
    opt.step();
    expect(Array.from(x.grad!.toTypedArray())).toEqual(before);
  });

  it("validates its hyperparameters with messages naming optimizer, argument, rule and value", () => {
    const { x } = quadratic(A, X0);
    expect(() => new SGD([x], { lr: -0.1 })).toThrow(ArgumentError);
    expect(() => new SGD([x], { lr: -0.1 })).toThrow("SGD: lr must be a finite number > 0, but got -0.1");
    expect(() => new SGD([x], { lr: 0 })).toThrow("SGD: lr must be a finite number > 0, but got 0");
    expect(() => new SGD([x], { lr: Number.NaN })).toThrow("SGD: lr must be a finite number > 0, but got NaN");
    expect(() => new SGD([x], {} as { lr: number })).toThrow("SGD: lr must be a finite number > 0, but got undefined");
    expect(() => new SGD([x], { lr: 0.1, weightDecay: -1 })).toThrow("SGD: weightDecay must be a finite number >= 0, but got -1");
    expect(() => new SGD([x], { lr: 0.1, momentum: -0.5 })).toThrow("SGD: momentum must be a finite number >= 0, but got -0.5");
    expect(() => new SGD([x], { lr: 0.1, nesterov: true })).toThrow(
      "SGD: nesterov needs momentum > 0 and dampening = 0, but got momentum 0 and dampening 0",
    );
    expect(() => new SGD([x], { lr: 0.1, weight_decay: 0.1 } as { lr: number })).toThrow(
      'SGD: unknown option "weight_decay"; the options are lr, momentum, dampening, nesterov, weightDecay',
    );
  });
});
