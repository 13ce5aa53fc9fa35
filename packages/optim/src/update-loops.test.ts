import { describe, expect, it } from "vitest";
import { adamUpdate, type AdamHyper } from "./adam-update.js";
import { sgdUpdate, type SgdHyper } from "./sgd-update.js";

// sgdUpdate and adamUpdate run their usual case (momentum after the first step; Adam without coupled
// decay, amsgrad or maximize) as a loop of its own. Each must give the bits of the formula written
// out element by element, here over values that include NaN, infinities, -0 and subnormals.

const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1e-40, -3e-39];

function values(length: number, seed: number, Array: Float32ArrayConstructor | Float64ArrayConstructor): Float32Array | Float64Array {
  const out = new Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 11 === 3 ? SPECIAL[(i + seed) % SPECIAL.length]! : Math.sin(i * 1.7 + seed) * (1 + (i % 5));
  return out;
}

function sgdReference(p: Float32Array | Float64Array, g: Float32Array | Float64Array, buf: Float32Array | Float64Array, h: SgdHyper): void {
  for (let i = 0; i < p.length; i++) {
    buf[i] = h.momentum * buf[i]! + (1 - h.dampening) * g[i]!;
    p[i] = p[i]! - h.lr * buf[i]!;
  }
}

function adamReference(p: Float32Array | Float64Array, g: Float32Array | Float64Array, m: Float32Array | Float64Array, v: Float32Array | Float64Array, step: number, h: AdamHyper, decoupled: boolean): void {
  const [beta1, beta2] = h.betas as [number, number];
  const shrink = decoupled ? 1 - h.lr * h.weightDecay : 1;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! * shrink;
    m[i] = m[i]! + (1 - beta1) * (g[i]! - m[i]!);
    v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! * g[i]!;
    p[i] = pi - ((h.lr / (1 - beta1 ** step)) * m[i]!) / (Math.sqrt(v[i]!) * (1 / Math.sqrt(1 - beta2 ** step)) + h.eps);
  }
}

function expectSameBits(actual: Float32Array | Float64Array, expected: Float32Array | Float64Array): void {
  expect(Array.from(actual, (x) => (Object.is(x, -0) ? "-0" : x))).toEqual(Array.from(expected, (x) => (Object.is(x, -0) ? "-0" : x)));
}

describe.each([Float32Array, Float64Array])("update loops on %o", (Array) => {
  const length = 203;

  it("SGD with momentum after the first step: buf = μ·buf + g, p -= lr·buf, bit for bit", () => {
    const h: SgdHyper = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    const [p, g, buf] = [values(length, 1, Array), values(length, 2, Array), values(length, 3, Array)];
    const [p2, buf2] = [p.slice(), buf.slice()];
    sgdUpdate(p, g, buf, false, h);
    sgdReference(p2, g, buf2, h);
    expectSameBits(p, p2);
    expectSameBits(buf, buf2);
  });

  it.each([false, true])("Adam (decoupled decay %s): m, v and p bit for bit", (decoupled) => {
    const h: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: decoupled ? 0.01 : 0, amsgrad: false, maximize: false };
    const [p, g, m] = [values(length, 4, Array), values(length, 5, Array), values(length, 6, Array)];
    const v = values(length, 7, Array).map(Math.abs);
    const [p2, m2, v2] = [p.slice(), m.slice(), v.slice()];
    adamUpdate(p, g, m, v, null, 7, h, decoupled);
    adamReference(p2, g, m2, v2, 7, h, decoupled);
    expectSameBits(p, p2);
    expectSameBits(m, m2);
    expectSameBits(v, v2);
  });
});
