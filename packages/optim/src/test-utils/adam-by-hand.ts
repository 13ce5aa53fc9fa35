/**
 * Three Adam steps on one coordinate of f(x) = a·x², written out with the textbook bias-corrected
 * moments m̂ = m / (1 - β1^t), v̂ = v / (1 - β2^t) (independent of the library's loop).
 * `decoupled` shrinks x by (1 - lr·wd) first (AdamW); otherwise wd·x is added to the gradient.
 */
export function adamByHand(
  a: number,
  x0: number,
  h: { lr: number; beta1: number; beta2: number; eps: number; wd?: number; decoupled?: boolean; amsgrad?: boolean },
): [number, number, number] {
  const { lr, beta1: b1, beta2: b2, eps } = h;
  const wd = h.wd ?? 0;
  const l2 = h.decoupled ? 0 : wd;
  const shrink = h.decoupled ? 1 - lr * wd : 1;
  const pick = (vmax: number, v: number): number => (h.amsgrad ? Math.max(vmax, v) : v);

  const g1 = 2 * a * x0 + l2 * x0;
  const m1 = (1 - b1) * g1;
  const v1 = (1 - b2) * g1 * g1;
  const u1 = pick(0, v1);
  const x1 = x0 * shrink - (lr * (m1 / (1 - b1))) / (Math.sqrt(u1 / (1 - b2)) + eps);

  const g2 = 2 * a * x1 + l2 * x1;
  const m2 = b1 * m1 + (1 - b1) * g2;
  const v2 = b2 * v1 + (1 - b2) * g2 * g2;
  const u2 = pick(u1, v2);
  const x2 = x1 * shrink - (lr * (m2 / (1 - b1 * b1))) / (Math.sqrt(u2 / (1 - b2 * b2)) + eps);

  const g3 = 2 * a * x2 + l2 * x2;
  const m3 = b1 * m2 + (1 - b1) * g3;
  const v3 = b2 * v2 + (1 - b2) * g3 * g3;
  const u3 = pick(u2, v3);
  const x3 = x2 * shrink - (lr * (m3 / (1 - b1 * b1 * b1))) / (Math.sqrt(u3 / (1 - b2 * b2 * b2)) + eps);

  return [x1, x2, x3];
}
