// f32 ReLU, add + ReLU and 2×2 max pooling for @pico/core in WebAssembly SIMD, over an element range (pooling:
// a plane range), so that threads can split one call; batch norm (assembly/batch-norm.ts) runs through the same
// entry, elementwiseJob. The loader (src/kernels/wasm/elementwise-wasm.ts) copies the operands in and the
// results out. Pointers are byte addresses.
import { batchNormJob } from "./batch-norm";
import { globalMean, globalMeanBackward } from "./global-mean";
import { maxPool2x2Backward } from "./pool";

/**
 * y[i] = relu(x[i]) for i in [i0, i1) as PyTorch computes it, `v < 0 ? 0 : v`: NaN stays NaN and −0 stays −0
 * (pmax(a, b) is `a < b ? b : a`, so x goes first).
 */
export function reluForward(x: usize, y: usize, i0: i32, i1: i32): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    v128.store(y + p, f32x4.pmax(v128.load(x + p), zero));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const v = load<f32>(x + p);
    store<f32>(y + p, v < 0 ? 0 : v);
  }
}

/** dx[i] = y[i] <= 0 ? 0 : g[i] for i in [i0, i1) (PyTorch's threshold_backward: a NaN output passes g): a mask, no branch. */
export function reluBackward(g: usize, y: usize, dx: usize, i0: i32, i1: i32): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    v128.store(dx + p, v128.andnot(v128.load(g + p), f32x4.le(v128.load(y + p), zero)));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    store<f32>(dx + p, load<f32>(y + p) <= 0 ? 0 : load<f32>(g + p));
  }
}

/** y[i] = relu(a[i] + b[i]) for i in [i0, i1), as reluForward. */
export function addReluForward(a: usize, b: usize, y: usize, i0: i32, i1: i32): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = <usize>i << 2;
    v128.store(y + p, f32x4.pmax(f32x4.add(v128.load(a + p), v128.load(b + p)), zero));
  }
  for (; i < i1; i++) {
    const p = <usize>i << 2;
    const v = load<f32>(a + p) + load<f32>(b + p);
    store<f32>(y + p, v < 0 ? 0 : v);
  }
}

/**
 * 2×2 max pooling with stride 2 of planes [p0, p1) of x [planes, H, W] into out [planes, oH, oW] (windows
 * inside the input), and when argmax is not 0 the flat input index of each window's maximum, counted from
 * indexBase (the index of x's first element), into it (i32, packed like out). A later tap wins where it
 * is greater or NaN, as nn's TypeScript kernel: the first maximum in scan order, or the last NaN. Four
 * windows at a time, selected with masks.
 */
export function maxPool2x2(x: usize, out: usize, argmax: usize, H: i32, W: i32, oH: i32, oW: i32, p0: i32, p1: i32, indexBase: i32): void {
  const step = i32x4(0, 2, 4, 6);
  for (let p = p0; p < p1; p++) {
    for (let oh = 0; oh < oH; oh++) {
      const first = p * H * W + 2 * oh * W;
      const r0 = x + (<usize>first << 2);
      const r1 = r0 + (<usize>W << 2);
      const o = (p * oH + oh) * oW;
      let ow = 0;
      for (; ow + 4 <= oW; ow += 4) {
        const c = <usize>(2 * ow) << 2;
        const u0 = v128.load(r0 + c);
        const u1 = v128.load(r0 + c, 16);
        const l0 = v128.load(r1 + c);
        const l1 = v128.load(r1 + c, 16);
        const a = i8x16.shuffle(u0, u1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
        const b = i8x16.shuffle(u0, u1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
        const d = i8x16.shuffle(l0, l1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
        const e = i8x16.shuffle(l0, l1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
        const ia = i32x4.add(i32x4.splat(indexBase + first + 2 * ow), step);
        let best = a;
        let index = ia;
        let m = v128.or(f32x4.gt(b, best), f32x4.ne(b, b));
        best = v128.bitselect(b, best, m);
        index = v128.bitselect(i32x4.add(ia, i32x4.splat(1)), index, m);
        m = v128.or(f32x4.gt(d, best), f32x4.ne(d, d));
        best = v128.bitselect(d, best, m);
        index = v128.bitselect(i32x4.add(ia, i32x4.splat(W)), index, m);
        m = v128.or(f32x4.gt(e, best), f32x4.ne(e, e));
        best = v128.bitselect(e, best, m);
        index = v128.bitselect(i32x4.add(ia, i32x4.splat(W + 1)), index, m);
        v128.store(out + (<usize>(o + ow) << 2), best);
        if (argmax != 0) v128.store(argmax + (<usize>(o + ow) << 2), index);
      }
      for (; ow < oW; ow++) {
        const i0 = first + 2 * ow;
        let best = load<f32>(x + (<usize>i0 << 2));
        let index = i0;
        for (let k = 1; k < 4; k++) {
          const i = i0 + (k & 1) + (k >> 1) * W;
          const v = load<f32>(x + (<usize>i << 2));
          if (v > best || v != v) {
            best = v;
            index = i;
          }
        }
        store<f32>(out + (<usize>(o + ow) << 2), best);
        if (argmax != 0) store<i32>(argmax + (<usize>(o + ow) << 2), indexBase + index);
      }
    }
  }
}

/** Job kinds of elementwiseJob, the one entry worker threads call. */
/** Batch norm: its step (batchNormJob's) and that step's arguments. */
const BATCH_NORM = 0;
const RELU_FORWARD = 2;
const RELU_BACKWARD = 3;
const ADD_RELU_FORWARD = 4;
const MAX_POOL_2X2 = 5;
const MAX_POOL_2X2_BACKWARD = 6;
const GLOBAL_MEAN = 7;
const GLOBAL_MEAN_BACKWARD = 8;

/** Runs one job of the kernels above: `kind`, then that kernel's arguments in order (unused ones 0). */
export function elementwiseJob(
  kind: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, a11: i32, a12: i32, a13: i32, a14: i32,
): void {
  switch (kind) {
    case BATCH_NORM:
      batchNormJob(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14);
      break;
    case RELU_FORWARD:
      reluForward(a1, a2, a3, a4);
      break;
    case RELU_BACKWARD:
      reluBackward(a1, a2, a3, a4, a5);
      break;
    case ADD_RELU_FORWARD:
      addReluForward(a1, a2, a3, a4, a5);
      break;
    case MAX_POOL_2X2:
      maxPool2x2(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);
      break;
    case MAX_POOL_2X2_BACKWARD:
      maxPool2x2Backward(a1, a2, a3, a4, a5, a6, a7, a8, a9);
      break;
    case GLOBAL_MEAN:
      globalMean(a1, a2, a3, a4, a5);
      break;
    case GLOBAL_MEAN_BACKWARD:
      globalMeanBackward(a1, a2, a3, a4, a5);
      break;
  }
}
