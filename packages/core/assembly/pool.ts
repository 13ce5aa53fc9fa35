// The backward of 2×2 max pooling with stride 2 (assembly/elementwise.ts's maxPool2x2) for @pico/core in
// WebAssembly SIMD: over a block of planes, each input element receives its window's output gradient
// where it is the window's arg-max, else 0. Every element of the block is written (no zero-fill first),
// as 0 + g, which is what the TypeScript scatter into a zero-filled gradient gives bit for bit (−0 becomes 0).

/**
 * gx [count, H, W] from gy and argmax [count, oH, oW] (windows inside the input: 2·oH <= H, 2·oW <= W).
 * argmax holds flat input indices counted from `indexBase`, the index of gx's first element.
 */
export function maxPool2x2Backward(gy: usize, argmax: usize, gx: usize, H: i32, W: i32, oH: i32, oW: i32, count: i32, indexBase: i32): void {
  const step = i32x4(0, 2, 4, 6);
  const zero = f32x4.splat(0);
  const rowBytes = <usize>W << 2;
  for (let p = 0; p < count; p++) {
    const plane = gx + (<usize>(p * H * W) << 2);
    for (let oh = 0; oh < oH; oh++) {
      const first = indexBase + p * H * W + 2 * oh * W;
      const r0 = plane + (<usize>(2 * oh) << 2) * <usize>W;
      const r1 = r0 + rowBytes;
      const o = (p * oH + oh) * oW;
      let ow = 0;
      for (; ow + 4 <= oW; ow += 4) {
        const g = v128.load(gy + (<usize>(o + ow) << 2));
        const at = v128.load(argmax + (<usize>(o + ow) << 2));
        const ia = i32x4.add(i32x4.splat(first + 2 * ow), step);
        const a = f32x4.add(zero, v128.and(g, i32x4.eq(at, ia)));
        const b = f32x4.add(zero, v128.and(g, i32x4.eq(at, i32x4.add(ia, i32x4.splat(1)))));
        const d = f32x4.add(zero, v128.and(g, i32x4.eq(at, i32x4.add(ia, i32x4.splat(W)))));
        const e = f32x4.add(zero, v128.and(g, i32x4.eq(at, i32x4.add(ia, i32x4.splat(W + 1)))));
        const c = <usize>(2 * ow) << 2;
        v128.store(r0 + c, i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23));
        v128.store(r0 + c, i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), 16);
        v128.store(r1 + c, i8x16.shuffle(d, e, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23));
        v128.store(r1 + c, i8x16.shuffle(d, e, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), 16);
      }
      for (; ow < oW; ow++) {
        const g = load<f32>(gy + (<usize>(o + ow) << 2));
        const at = load<i32>(argmax + (<usize>(o + ow) << 2));
        const i0 = first + 2 * ow;
        const c = <usize>(2 * ow) << 2;
        store<f32>(r0 + c, at == i0 ? 0 + g : 0);
        store<f32>(r0 + c + 4, at == i0 + 1 ? 0 + g : 0);
        store<f32>(r1 + c, at == i0 + W ? 0 + g : 0);
        store<f32>(r1 + c + 4, at == i0 + W + 1 ? 0 + g : 0);
      }
      // Columns past the last window (odd W).
      for (let w = 2 * oW; w < W; w++) {
        store<f32>(r0 + (<usize>w << 2), 0);
        store<f32>(r1 + (<usize>w << 2), 0);
      }
    }
    // Rows past the last window (odd H).
    memory.fill(plane + (<usize>(2 * oH) << 2) * <usize>W, 0, (<usize>(H - 2 * oH) << 2) * <usize>W);
  }
}
