import { Tensor, tensor, type DType } from "@pico/core";
import { SGD } from "@pico/optim";
import { describe, expect, it } from "vitest";
import { Linear, MSELoss, Sequential, Sigmoid, Tanh } from "./index.js";

// The two-layer network of the seed article "深入浅出Tensorflow原理" (seeds/002): x = [1, 2, 3],
// target y = [-0.85, 0.72], 3 → 4 sigmoid → 2 tanh, mean squared error, and these initial weights
// (stored there as [in, out], so x · w1_0 + b1_0; our Linear holds [out, in]).
const x0 = [1, 2, 3];
const y0 = [-0.85, 0.72];
const w1_0 = [
  [0.1, 0.2, 0.3, 0.4],
  [0.5, 0.6, 0.7, 0.8],
  [0.9, 1.0, 1.1, 1.2],
];
const w2_0 = [
  [1.3, 1.4],
  [1.5, 1.6],
  [1.7, 1.8],
  [1.9, 2.0],
];
const b1_0 = [-2.0, -6.0, -1.0, -7.0];
const b2_0 = [-2.5, -5.0];
/** The seed's learning rate (alpha = 0.1 in its update loop). */
const lr = 0.1;

interface Weights {
  w1: number[][];
  b1: number[];
  w2: number[][];
  b2: number[];
}

interface HandPass {
  output: number[];
  loss: number;
  grads: Weights;
}

/** Forward and backward written out by hand with plain numbers, independently of the library. */
function handPass({ w1, b1, w2, b2 }: Weights): HandPass {
  const o1 = [0, 1, 2, 3].map((j) => x0[0]! * w1[0]![j]! + x0[1]! * w1[1]![j]! + x0[2]! * w1[2]![j]! + b1[j]!);
  const s1 = o1.map((v) => 1 / (1 + Math.exp(-v)));
  const o2 = [0, 1].map((k) => s1[0]! * w2[0]![k]! + s1[1]! * w2[1]![k]! + s1[2]! * w2[2]![k]! + s1[3]! * w2[3]![k]! + b2[k]!);
  const s2 = o2.map(Math.tanh);
  const loss = ((s2[0]! - y0[0]!) ** 2 + (s2[1]! - y0[1]!) ** 2) / 2;
  // d loss / d s2 = 2 (s2 − y) / 2; tanh' = 1 − s2²; sigmoid' = s1 (1 − s1).
  const do2 = [0, 1].map((k) => (s2[k]! - y0[k]!) * (1 - s2[k]! ** 2));
  const ds1 = [0, 1, 2, 3].map((j) => w2[j]![0]! * do2[0]! + w2[j]![1]! * do2[1]!);
  const do1 = ds1.map((v, j) => v * s1[j]! * (1 - s1[j]!));
  return {
    output: s2,
    loss,
    grads: {
      w1: [0, 1, 2].map((i) => do1.map((d) => x0[i]! * d)),
      b1: do1,
      w2: [0, 1, 2, 3].map((j) => do2.map((d) => s1[j]! * d)),
      b2: do2,
    },
  };
}

function handTrain(steps: number): { losses: number[]; weights: Weights } {
  let weights: Weights = { w1: w1_0.map((r) => [...r]), b1: [...b1_0], w2: w2_0.map((r) => [...r]), b2: [...b2_0] };
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { loss, grads } = handPass(weights);
    losses.push(loss);
    weights = {
      w1: weights.w1.map((r, i) => r.map((v, j) => v - lr * grads.w1[i]![j]!)),
      b1: weights.b1.map((v, j) => v - lr * grads.b1[j]!),
      w2: weights.w2.map((r, j) => r.map((v, k) => v - lr * grads.w2[j]![k]!)),
      b2: weights.b2.map((v, k) => v - lr * grads.b2[k]!),
    };
  }
  return { losses, weights };
}

const transpose = (m: number[][]): number[][] => m[0]!.map((_, j) => m.map((row) => row[j]!));

function seedNetwork(dtype: DType): { model: Sequential; first: Linear; second: Linear } {
  const first = new Linear(3, 4, { dtype });
  const second = new Linear(4, 2, { dtype });
  const model = new Sequential(first, new Sigmoid(), second, new Tanh());
  model.loadStateDict({
    "0.weight": tensor(transpose(w1_0), { dtype: "float64" }),
    "0.bias": tensor(b1_0, { dtype: "float64" }),
    "2.weight": tensor(transpose(w2_0), { dtype: "float64" }),
    "2.bias": tensor(b2_0, { dtype: "float64" }),
  });
  return { model, first, second };
}

function expectNear(actual: Tensor, expected: number[] | number[][], tolerance: number, what: string): void {
  const a = Array.from(actual.toTypedArray());
  const e = expected.flat();
  expect(a.length, what).toBe(e.length);
  a.forEach((v, i) => expect(Math.abs(v - e[i]!), `${what}[${i}]: ${v} vs ${e[i]}`).toBeLessThanOrEqual(tolerance));
}

describe("the seed article's two-layer network", () => {
  const hand = handPass({ w1: w1_0, b1: b1_0, w2: w2_0, b2: b2_0 });

  it("starts from the output the article reports, [0.72, -0.88]", () => {
    expect(hand.output[0]).toBeCloseTo(0.72, 2);
    expect(hand.output[1]).toBeCloseTo(-0.88, 2);
  });

  for (const [dtype, tolerance] of [["float64", 1e-12], ["float32", 2e-6]] as const) {
    it(`forward output, loss and every gradient match the hand computation (${dtype})`, () => {
      const { model, first, second } = seedNetwork(dtype);
      const output = model.forward(tensor([x0], { dtype }));
      expectNear(output, [hand.output], tolerance, "output");
      const loss = new MSELoss().forward(output, tensor([y0], { dtype }));
      expect(Math.abs(loss.item() - hand.loss)).toBeLessThanOrEqual(tolerance);
      loss.backward();
      expectNear(first.weight.grad!, transpose(hand.grads.w1), tolerance, "w1 grad");
      expectNear(first.bias!.grad!, hand.grads.b1, tolerance, "b1 grad");
      expectNear(second.weight.grad!, transpose(hand.grads.w2), tolerance, "w2 grad");
      expectNear(second.bias!.grad!, hand.grads.b2, tolerance, "b2 grad");
    });
  }

  it(`100 SGD steps at the seed's learning rate ${lr} follow the hand-written training and drive the loss below 1e-3`, () => {
    const { model, first, second } = seedNetwork("float64");
    const optimizer = new SGD(model.parameters(), { lr });
    const lossFn = new MSELoss();
    const x = tensor([x0], { dtype: "float64" });
    const y = tensor([y0], { dtype: "float64" });
    const losses: number[] = [];
    for (let step = 0; step < 100; step++) {
      optimizer.zeroGrad();
      const loss = lossFn.forward(model.forward(x), y);
      losses.push(loss.item());
      loss.backward();
      optimizer.step();
    }
    const reference = handTrain(100);
    losses.forEach((l, i) => expect(Math.abs(l - reference.losses[i]!), `loss at step ${i}`).toBeLessThanOrEqual(1e-10));
    expectNear(first.weight, transpose(reference.weights.w1), 1e-10, "w1 after training");
    expectNear(second.bias!, reference.weights.b2, 1e-10, "b2 after training");
    const final = lossFn.forward(model.forward(x), y).item();
    expect(losses[0]).toBeGreaterThan(2.5);
    expect(final).toBeLessThan(1e-3);
  });
});
