// Winograd transforms shared by the F(2×2, 5×5) and F(4×4, 3×3) kernels: both use the 6-point
// interpolation 0, ±1, ±2, ∞ (Lavin & Gray 2015), so their input transform Bᵀ is the same 6×6 matrix.

/** Bᵀ·d for 6 vectors d0..d5 (6 tiles' worth of one row or column each); out receives 6 vectors. */
// @ts-ignore: decorator
@inline
export function inputTransform(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, out: usize, step: usize): void {
  const four = f32x4.splat(4), five = f32x4.splat(5), two = f32x4.splat(2);
  const d42 = f32x4.sub(d4, d2);
  const d31 = f32x4.mul(two, f32x4.sub(d3, d1));
  v128.store(out, f32x4.add(f32x4.sub(f32x4.mul(four, d0), f32x4.mul(five, d2)), d4));
  v128.store(out + step, f32x4.sub(f32x4.add(d3, d4), f32x4.mul(four, f32x4.add(d1, d2))));
  v128.store(out + 2 * step, f32x4.add(f32x4.sub(d4, d3), f32x4.mul(four, f32x4.sub(d1, d2))));
  v128.store(out + 3 * step, f32x4.add(d42, d31));
  v128.store(out + 4 * step, f32x4.sub(d42, d31));
  v128.store(out + 5 * step, f32x4.add(f32x4.sub(f32x4.mul(four, d1), f32x4.mul(five, d3)), d5));
}
