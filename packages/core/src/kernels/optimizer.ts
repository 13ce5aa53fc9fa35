import type { FloatArray } from "../dtype.js";
import { kernelFamily } from "./registry.js";
import { wasmAvailable } from "./wasm/engine.js";
import { adamUpdateWasm, optimizerThreads, sgdUpdateWasm } from "./wasm/optimizer-wasm.js";

// The optimizers' updates of one parameter on raw arrays (@pico/optim's SGD, Momentum, Adam and AdamW):
// the TypeScript loops ("js") and WebAssembly SIMD ("wasm": float32 only, float64 and small parameters go to
// the loops; on the threads for a large parameter whose arrays are resident storage, see optimizer-wasm.ts). The WebAssembly kernel computes in float64 and rounds where the loops store into a
// Float32Array, in the same order of operations, so both give the same bits (tested), and a run's
// trajectory does not depend on which one ran.

/** The hyperparameters of an SGD step: @pico/optim's SGD and Momentum parameter groups hold these. */
export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** Ascend the gradient instead (torch's maximize). */
  maximize: boolean;
}

/** The hyperparameters of an Adam step: @pico/optim's Adam and AdamW parameter groups hold these. */
export interface AdamHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  /** Ascend the gradient instead (torch's maximize). */
  maximize: boolean;
}

export interface OptimizerKernel {
  /**
   * PyTorch's SGD step on raw arrays: d = ±g + wd·p (−g with maximize); with momentum, buf = d on the first step and
   * μ·buf + (1 - dampening)·d after, d = nesterov ? d + μ·buf : buf; then p -= lr·d.
   * `buf` is null without momentum.
   */
  sgd(p: FloatArray, g: FloatArray, buf: FloatArray | null, first: boolean, h: SgdHyper): void;
  /**
   * PyTorch's Adam / AdamW step on raw arrays (`step` counts from 1); with maximize the gradient's sign
   * is flipped first. Coupled decay adds wd·p to the gradient; decoupled decay (AdamW) scales p by
   * 1 - lr·wd first. Then m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², v̂ = amsgrad ? max(vmax, v) : v,
   * p -= lr / (1-β1^t) · m / (sqrt(v̂) / sqrt(1-β2^t) + eps). `vmax` is null unless amsgrad.
   */
  adam(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, vmax: FloatArray | null, step: number, h: AdamHyper, decoupled: boolean): void;
}

/** Adam's per-step constants, shared by both implementations so that they are the same numbers. */
interface AdamConstants {
  l2: number;
  shrink: number;
  stepSize: number;
  inverseCorrection2: number;
  keep1: number;
  beta2: number;
  keep2: number;
  sign: number;
}

/**
 * One object that every call fills and reads at once, instead of a new one per parameter and step (an
 * update never calls another: nothing can overwrite it while it is read).
 */
const adamStep: AdamConstants = { l2: 0, shrink: 1, stepSize: 0, inverseCorrection2: 0, keep1: 0, beta2: 0, keep2: 0, sign: 1 };

function adamConstants(step: number, h: AdamHyper, decoupled: boolean): AdamConstants {
  const lr = h.lr;
  const beta1 = h.betas[0];
  const beta2 = h.betas[1];
  const c = adamStep;
  c.l2 = decoupled ? 0 : h.weightDecay;
  c.shrink = decoupled ? 1 - lr * h.weightDecay : 1;
  c.stepSize = lr / (1 - beta1 ** step);
  c.inverseCorrection2 = 1 / Math.sqrt(1 - beta2 ** step);
  c.keep1 = 1 - beta1;
  c.beta2 = beta2;
  c.keep2 = 1 - beta2;
  c.sign = h.maximize ? -1 : 1;
  return c;
}

export const optimizerJs: OptimizerKernel = {
  sgd(p, g, buf, first, h) {
    const { lr, momentum, weightDecay: wd, nesterov } = h;
    const sign = h.maximize ? -1 : 1;
    const n = p.length;
    // As torch, the decay term is left out (not added as 0·p) when weightDecay is 0: an infinite
    // parameter stays infinite instead of turning NaN.
    if (buf === null) {
      if (wd === 0) for (let i = 0; i < n; i++) p[i] = p[i]! - lr * (sign * g[i]!);
      else for (let i = 0; i < n; i++) p[i] = p[i]! - lr * (sign * g[i]! + wd * p[i]!);
      return;
    }
    const keep = 1 - h.dampening;
    if (!first && !nesterov && wd === 0 && sign === 1 && keep === 1) {
      // Momentum's usual step as one tight loop: the loop below with its branches decided (d = 1·g and
      // 1·d are exact, so the results are the same bits): 250k parameters 0.68 -> 0.43 ms.
      for (let i = 0; i < n; i++) {
        buf[i] = momentum * buf[i]! + g[i]!;
        p[i] = p[i]! - lr * buf[i]!;
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const d = wd === 0 ? sign * g[i]! : sign * g[i]! + wd * p[i]!;
      buf[i] = first ? d : momentum * buf[i]! + keep * d;
      const b = buf[i]!;
      p[i] = p[i]! - lr * (nesterov ? d + momentum * b : b);
    }
  },

  adam(p, g, m, v, vmax, step, h, decoupled) {
    const { eps } = h;
    const { l2, shrink, stepSize, inverseCorrection2, keep1, beta2, keep2, sign } = adamConstants(step, h, decoupled);
    const n = p.length;
    if (l2 === 0 && vmax === null && sign === 1) {
      // The usual step as one loop without branches, the same arithmetic as below (1·g is exact): the
      // reference network's 44k parameters 0.216 -> 0.187 ms.
      for (let i = 0; i < n; i++) {
        const pi = p[i]! * shrink;
        const gi = g[i]!;
        m[i] = m[i]! + keep1 * (gi - m[i]!);
        v[i] = beta2 * v[i]! + keep2 * gi * gi;
        p[i] = pi - (stepSize * m[i]!) / (Math.sqrt(v[i]!) * inverseCorrection2 + eps);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const pi = p[i]! * shrink;
      // Without coupled decay, 0·p is not added (as torch): an infinite parameter stays infinite.
      const gi = l2 === 0 ? sign * g[i]! : sign * g[i]! + l2 * pi;
      m[i] = m[i]! + keep1 * (gi - m[i]!);
      v[i] = beta2 * v[i]! + keep2 * gi * gi;
      let second = v[i]!;
      if (vmax !== null) {
        if (vmax[i]! > second) second = vmax[i]!;
        vmax[i] = second;
      }
      p[i] = pi - (stepSize * m[i]!) / (Math.sqrt(second) * inverseCorrection2 + eps);
    }
  },
};

const f32 = (a: FloatArray | null): a is Float32Array => a instanceof Float32Array;

/**
 * Below this many elements a parameter (a bias) goes to the loops, which then take less time than the
 * module's call and copies (Adam: 120 floats 1.3 vs 3.2 us, 1,200 floats 6.4 vs 4.9 us); the bits are the same.
 */
const WASM_MIN_ELEMENTS = 1024;

export const optimizerWasm: OptimizerKernel = {
  sgd(p, g, buf, first, h) {
    const ran =
      p.length >= WASM_MIN_ELEMENTS && f32(p) && f32(g) && (buf === null || f32(buf)) &&
      sgdUpdateWasm(p, g, buf, first, h.lr, h.momentum, 1 - h.dampening, h.weightDecay, h.maximize ? -1 : 1, h.nesterov);
    if (!ran) optimizerJs.sgd(p, g, buf, first, h);
  },
  adam(p, g, m, v, vmax, step, h, decoupled) {
    const c = adamConstants(step, h, decoupled);
    const ran =
      p.length >= WASM_MIN_ELEMENTS && f32(p) && f32(g) && f32(m) && f32(v) && (vmax === null || f32(vmax)) &&
      adamUpdateWasm(p, g, m, v, vmax, c.shrink, c.l2, c.sign, c.keep1, c.beta2, c.keep2, c.stepSize, c.inverseCorrection2, h.eps);
    if (!ran) optimizerJs.adam(p, g, m, v, vmax, step, h, decoupled);
  },
};

/** The "optimizer" kernel family (useKernels, kernelInfo): @pico/optim's updates run the one it resolves. */
export const optimizerKernels = kernelFamily<OptimizerKernel>("optimizer")
  .register("js", optimizerJs)
  .register("wasm", optimizerWasm, { available: wasmAvailable, threads: optimizerThreads });
