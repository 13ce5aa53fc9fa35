// The global mean over each plane of H·W floats (adaptive average pooling to 1×1: a CIFAR or ResNet head) and
// its backward for @pico/nn in WebAssembly SIMD, over a plane range, so that threads can split one call. The
// sums are the TypeScript loops' (nn's kernels/adaptive-pool2d.ts) bit for bit: float64, in eight
// interleaved partial sums (element i of a plane into partial i mod 8, the tail into the first), combined
// as (s0 + s1 + (s2 + s3)) + (s4 + s5 + (s6 + s7)), then divided by the plane's size in float64.

/** out[p] = mean of plane p of x (`size` floats each) for p in [p0, p1). */
export function globalMean(x: usize, out: usize, size: i32, p0: i32, p1: i32): void {
  for (let p = p0; p < p1; p++) {
    const plane = x + ((<usize>p * <usize>size) << 2);
    // Lanes (s0, s1), (s2, s3), (s4, s5), (s6, s7).
    let a = f64x2.splat(0), b = f64x2.splat(0), c = f64x2.splat(0), d = f64x2.splat(0);
    let i = 0;
    for (; i + 8 <= size; i += 8) {
      const lo = v128.load(plane + (<usize>i << 2));
      const hi = v128.load(plane + (<usize>i << 2), 16);
      a = f64x2.add(a, f64x2.promote_low_f32x4(lo));
      b = f64x2.add(b, f64x2.promote_low_f32x4(v128.shuffle<f32>(lo, lo, 2, 3, 2, 3)));
      c = f64x2.add(c, f64x2.promote_low_f32x4(hi));
      d = f64x2.add(d, f64x2.promote_low_f32x4(v128.shuffle<f32>(hi, hi, 2, 3, 2, 3)));
    }
    let s0 = f64x2.extract_lane(a, 0);
    for (; i < size; i++) s0 += <f64>load<f32>(plane + (<usize>i << 2));
    const s = s0 + f64x2.extract_lane(a, 1) + (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1)) +
      (f64x2.extract_lane(c, 0) + f64x2.extract_lane(c, 1) + (f64x2.extract_lane(d, 0) + f64x2.extract_lane(d, 1)));
    store<f32>(out + (<usize>p << 2), <f32>(s / <f64>size));
  }
}

/** gx[p, i] = gy[p] / size for every element i of planes p in [p0, p1) (every element written), as 0 + gy[p] / size in float64 (−0 becomes 0). */
export function globalMeanBackward(gy: usize, gx: usize, size: i32, p0: i32, p1: i32): void {
  for (let p = p0; p < p1; p++) {
    const value = <f32>(0 + <f64>load<f32>(gy + (<usize>p << 2)) / <f64>size);
    const v = f32x4.splat(value);
    const plane = gx + ((<usize>p * <usize>size) << 2);
    let i = 0;
    for (; i + 4 <= size; i += 4) v128.store(plane + (<usize>i << 2), v);
    for (; i < size; i++) store<f32>(plane + (<usize>i << 2), value);
  }
}
