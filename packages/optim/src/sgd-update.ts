import type { FloatArray } from "@pico/core";

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  maximize: boolean;
}

/**
 * PyTorch's SGD step on raw arrays: d = ±g + wd·p (−g with maximize); with momentum, buf = d on the first step and
 * μ·buf + (1 - dampening)·d after, d = nesterov ? d + μ·buf : buf; then p -= lr·d.
 * `buf` is null without momentum.
 */
export function sgdUpdate(p: FloatArray, g: FloatArray, buf: FloatArray | null, first: boolean, h: SgdHyper): void {
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
}
