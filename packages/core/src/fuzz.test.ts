import { describe, expect, it } from "vitest";
import { Generator, Tensor, gradcheck } from "./index.js";
import { inputs } from "./test-utils/index.js";

type Step = { name: string; apply: (x: Tensor, other: Tensor) => Tensor };

/** Operators that accept any shape (rank >= 1 where noted) and keep values in a tame range. */
function steps(gen: Generator, x: Tensor): Step[] {
  const r = x.ndim;
  const axis = r > 0 ? gen.randint(r) : 0;
  const list: Step[] = [
    { name: "tanh", apply: (t) => t.tanh() },
    { name: "sigmoid", apply: (t) => t.sigmoid() },
    { name: "mul other", apply: (t, o) => t.mul(o) },
    { name: "add other", apply: (t, o) => t.add(o) },
    { name: "div (1 + t^2)", apply: (t) => t.div(t.square().add(1)) },
    { name: "exp of scaled", apply: (t) => t.mul(0.3).exp() },
    { name: "sub self-mean", apply: (t) => t.sub(t.mean()) },
  ];
  if (r >= 1) {
    list.push(
      { name: `softmax(${axis})`, apply: (t) => t.softmax(axis) },
      { name: `logSoftmax(${axis})`, apply: (t) => t.logSoftmax(axis) },
      { name: `sum(${axis}, keep)`, apply: (t) => t.sum(axis, true) },
      { name: `max(${axis}, keep)`, apply: (t) => t.max(axis, true) },
      { name: `pad last`, apply: (t) => t.pad([1, 0], 0.25) },
      { name: `flip-transpose`, apply: (t) => (r >= 2 ? t.transpose(0, r - 1) : t) },
      { name: `slice(${axis})`, apply: (t) => (t.shape[axis]! > 1 ? t.slice(axis, 1) : t) },
      { name: `reshape flat`, apply: (t) => t.reshape(-1) },
      { name: `unsqueeze`, apply: (t) => t.unsqueeze(0) },
      { name: `cat self`, apply: (t) => Tensor.cat([t, t.tanh()], axis) },
    );
  }
  if (r >= 2) {
    list.push({ name: "matmul own transpose", apply: (t) => t.matmul(t.transpose()).div(t.shape[r - 1]!) });
  }
  return list;
}

describe("random compositions of operators (a gradcheck fuzzer)", () => {
  it("150 random chains of 4 operators on random shapes", () => {
    const gen = new Generator(77);
    for (let trial = 0; trial < 150; trial++) {
      const rank = gen.randint(4);
      const shape = Array.from({ length: rank }, () => 1 + gen.randint(3));
      const [x, o] = inputs([shape, shape], { seed: trial });
      const chain: Step[] = [];
      // Choose the chain on a probe so each step fits the shape its input will have.
      let probe = x!.detach();
      let other = o!.detach();
      for (let k = 0; k < 4; k++) {
        const options = steps(gen, probe);
        const step = options[gen.randint(options.length)]!;
        chain.push(step);
        probe = step.apply(probe, other);
        other = broadcastable(other, probe) ? other : probe.detach().mul(0.5);
      }
      const run = (a: Tensor, b: Tensor): Tensor => {
        let y = a;
        let c = b;
        for (const step of chain) {
          y = step.apply(y, c);
          c = broadcastable(c, y) ? c : y.mul(0.5);
        }
        return y;
      };
      try {
        expect(gradcheck(run, [x!, o!])).toBe(true);
      } catch (e) {
        throw new Error(`shape [${shape}] chain ${chain.map((s) => s.name).join(" -> ")}: ${(e as Error).message}`);
      }
    }
  });
});

function broadcastable(a: Tensor, b: Tensor): boolean {
  if (a.ndim > b.ndim) return false;
  return a.shape.every((d, i) => d === 1 || d === b.shape[b.ndim - a.ndim + i]);
}
