// f32 batch normalisation, ReLU, add + ReLU and 2×2 max pooling for @pico/core in WebAssembly SIMD, over a channel
// range (batch norm) or an element range (pooling: a plane range; the others: an element range), so that threads can split one call. The loader
// (src/kernels/wasm/elementwise-wasm.ts) copies the operands in and the results out. Pointers are byte
// addresses; tensors are packed NCHW, seen as [n, c, s] with s the product of the trailing axes.
//
// Batch-norm tables, one entry per channel:
// - stats, f64 [mean c | var c | invStd c | eps]: a training forward writes the batch's mean and biased
//   variance, an evaluation forward reads the running ones; both write invStd = 1/sqrt(var + eps).
// - affine, f32 [mean c | scale c | shift c]: y = (x − mean)·scale + shift, scale = invStd·γ, shift = β,
//   written by the forward and read by the backward, which recomputes a fused ReLU's mask from x with the
//   very same f32 operations (so the mask is the forward's bit for bit and y need not be kept).

/** Floats summed in f32 lanes before the partial sum moves to f64 (keeps the rounding error of long planes small). */
const BLOCK: i32 = 1024;

// @ts-ignore: decorator
@inline
function lanesSum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/** Σ x[i] over [0, len), f32 lanes per block, f64 across blocks. */
function sumOf(x: usize, len: i32): f64 {
  let total: f64 = 0;
  for (let b = 0; b < len; b += BLOCK) {
    const end = min(len, b + BLOCK);
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let i = b;
    for (; i + 8 <= end; i += 8) {
      const p = x + (<usize>i << 2);
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
    }
    let tail: f64 = 0;
    for (; i < end; i++) tail += <f64>load<f32>(x + (<usize>i << 2));
    total += lanesSum(f32x4.add(s0, s1)) + tail;
  }
  return total;
}

/** Σ (x[i] − mu)² over [0, len). */
function squaredDeviations(x: usize, len: i32, mu: f32): f64 {
  const m = f32x4.splat(mu);
  let total: f64 = 0;
  for (let b = 0; b < len; b += BLOCK) {
    const end = min(len, b + BLOCK);
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let i = b;
    for (; i + 8 <= end; i += 8) {
      const p = x + (<usize>i << 2);
      const d0 = f32x4.sub(v128.load(p), m);
      const d1 = f32x4.sub(v128.load(p, 16), m);
      s0 = f32x4.add(s0, f32x4.mul(d0, d0));
      s1 = f32x4.add(s1, f32x4.mul(d1, d1));
    }
    let tail: f64 = 0;
    for (; i < end; i++) {
      const d = <f64>(load<f32>(x + (<usize>i << 2)) - mu);
      tail += d * d;
    }
    total += lanesSum(f32x4.add(s0, s1)) + tail;
  }
  return total;
}

/** y[i] = (x[i] − mean)·scale + shift over [0, len), then rectified when relu, as reluForward. */
function normalizePlane(x: usize, y: usize, len: i32, mean: f32, scale: f32, shift: f32, relu: bool): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  let i = 0;
  if (relu) {
    for (; i + 4 <= len; i += 4) {
      const p = <usize>i << 2;
      v128.store(y + p, f32x4.pmax(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p), mv), sv), hv), zero));
    }
    for (; i < len; i++) {
      const p = <usize>i << 2;
      const v = (load<f32>(x + p) - mean) * scale + shift;
      store<f32>(y + p, v < 0 ? 0 : v);
    }
  } else {
    for (; i + 4 <= len; i += 4) {
      const p = <usize>i << 2;
      v128.store(y + p, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p), mv), sv), hv));
    }
    for (; i < len; i++) {
      const p = <usize>i << 2;
      store<f32>(y + p, (load<f32>(x + p) - mean) * scale + shift);
    }
  }
}

/**
 * Batch norm forward for channels [ch0, ch1) of x [n, c, s] into y (which may be x): with `train`, the
 * batch's mean and biased variance (two passes: the variance sums squared deviations from the mean)
 * into stats; then invStd, the affine table, and y, rectified when `relu`. gamma and beta are f32 [c]
 * or 0 for 1 and 0.
 */
export function batchNormForward(
  x: usize, y: usize, n: i32, c: i32, s: i32, ch0: i32, ch1: i32, train: bool, relu: bool,
  gamma: usize, beta: usize, stats: usize, affine: usize,
): void {
  const eps = load<f64>(stats + (<usize>(3 * c) << 3));
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  for (let ch = ch0; ch < ch1; ch++) {
    const at = <usize>ch;
    const first = x + at * plane;
    let mean: f64;
    let variance: f64;
    if (train) {
      let total: f64 = 0;
      for (let b = 0; b < n; b++) total += sumOf(first + <usize>b * image, s);
      const count = <f64>n * <f64>s;
      mean = total / count;
      let sq: f64 = 0;
      for (let b = 0; b < n; b++) sq += squaredDeviations(first + <usize>b * image, s, <f32>mean);
      variance = sq / count;
      store<f64>(stats + (at << 3), mean);
      store<f64>(stats + ((<usize>c + at) << 3), variance);
    } else {
      mean = load<f64>(stats + (at << 3));
      variance = load<f64>(stats + ((<usize>c + at) << 3));
    }
    const invStd = 1 / Math.sqrt(variance + eps);
    store<f64>(stats + ((<usize>(2 * c) + at) << 3), invStd);
    const m32 = <f32>mean;
    const scale = <f32>(invStd * (gamma == 0 ? 1 : <f64>load<f32>(gamma + (at << 2))));
    const shift = beta == 0 ? <f32>0 : load<f32>(beta + (at << 2));
    store<f32>(affine + (at << 2), m32);
    store<f32>(affine + ((<usize>c + at) << 2), scale);
    store<f32>(affine + ((<usize>(2 * c) + at) << 2), shift);
    for (let b = 0; b < n; b++) {
      const off = <usize>b * image + at * plane;
      normalizePlane(x + off, y + off, s, m32, scale, shift, relu);
    }
  }
}

/**
 * Batch norm backward for channels [ch0, ch1): sums, f64 [Σgm c | Σgm·(x − mean) c], where gm is g, or
 * g where the fused ReLU's output was not <= 0 (recomputed from x and the affine table). Then, unless dx is
 * 0, dx = scale·(gm − Σgm/m − (x − mean)·invStd²·Σgm·(x − mean)/m) with `train` (m = n·s), else scale·gm.
 */
export function batchNormBackward(
  x: usize, g: usize, dx: usize, n: i32, c: i32, s: i32, ch0: i32, ch1: i32, train: bool, relu: bool,
  stats: usize, affine: usize, sums: usize,
): void {
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  const zero = f32x4.splat(0);
  for (let ch = ch0; ch < ch1; ch++) {
    const at = <usize>ch;
    const m32 = load<f32>(affine + (at << 2));
    const scale = load<f32>(affine + ((<usize>c + at) << 2));
    const shift = load<f32>(affine + ((<usize>(2 * c) + at) << 2));
    const mv = f32x4.splat(m32);
    const sv = f32x4.splat(scale);
    const hv = f32x4.splat(shift);
    let sumG: f64 = 0;
    let sumGX: f64 = 0;
    for (let b = 0; b < n; b++) {
      const off = <usize>b * image + at * plane;
      const xp = x + off;
      const gp = g + off;
      for (let k = 0; k < s; k += BLOCK) {
        const end = min(s, k + BLOCK);
        let sg = f32x4.splat(0);
        let sgx = f32x4.splat(0);
        let i = k;
        for (; i + 4 <= end; i += 4) {
          const p = <usize>i << 2;
          const d = f32x4.sub(v128.load(xp + p), mv);
          let gv = v128.load(gp + p);
          if (relu) gv = v128.andnot(gv, f32x4.le(f32x4.add(f32x4.mul(d, sv), hv), zero));
          sg = f32x4.add(sg, gv);
          sgx = f32x4.add(sgx, f32x4.mul(gv, d));
        }
        let tg: f64 = 0;
        let tgx: f64 = 0;
        for (; i < end; i++) {
          const p = <usize>i << 2;
          const d = load<f32>(xp + p) - m32;
          let gi = load<f32>(gp + p);
          if (relu && d * scale + shift <= 0) gi = 0;
          tg += <f64>gi;
          tgx += <f64>(gi * d);
        }
        sumG += lanesSum(sg) + tg;
        sumGX += lanesSum(sgx) + tgx;
      }
    }
    store<f64>(sums + (at << 3), sumG);
    store<f64>(sums + ((<usize>c + at) << 3), sumGX);
    if (dx == 0) continue;
    let a: f32 = scale;
    let bx: f32 = 0;
    let c0: f32 = 0;
    if (train) {
      const count = <f64>n * <f64>s;
      const invStd = load<f64>(stats + ((<usize>(2 * c) + at) << 3));
      bx = <f32>(-<f64>scale * (sumGX * invStd * invStd) / count);
      c0 = <f32>(-<f64>scale * sumG / count);
    }
    for (let b = 0; b < n; b++) {
      const off = <usize>b * image + at * plane;
      if (!train) scaledPlane(x + off, g + off, dx + off, s, m32, scale, shift, relu);
      else if (relu) gradientPlaneRelu(x + off, g + off, dx + off, s, m32, scale, shift, a, bx, c0);
      else gradientPlane(x + off, g + off, dx + off, s, m32, a, bx, c0);
    }
  }
}

/**
 * Evaluation: dx[i] = g[i]·scale over [0, len), g masked as gradientPlaneRelu's when relu. x enters only the
 * mask (the statistics are constants), so a NaN input does not reach its own gradient, as in PyTorch.
 */
function scaledPlane(x: usize, g: usize, dx: usize, len: i32, mean: f32, scale: f32, shift: f32, relu: bool): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const p = <usize>i << 2;
    let gv = v128.load(g + p);
    if (relu) gv = v128.andnot(gv, f32x4.le(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p), mv), sv), hv), zero));
    v128.store(dx + p, f32x4.mul(gv, sv));
  }
  for (; i < len; i++) {
    const p = <usize>i << 2;
    const gi: f32 = relu && (load<f32>(x + p) - mean) * scale + shift <= 0 ? 0 : load<f32>(g + p);
    store<f32>(dx + p, gi * scale);
  }
}

/** dx[i] = g[i]·a + (x[i] − mean)·bx + c0 over [0, len). */
function gradientPlane(x: usize, g: usize, dx: usize, len: i32, mean: f32, a: f32, bx: f32, c0: f32): void {
  const mv = f32x4.splat(mean);
  const av = f32x4.splat(a);
  const bv = f32x4.splat(bx);
  const cv = f32x4.splat(c0);
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const p = <usize>i << 2;
    const d = f32x4.sub(v128.load(x + p), mv);
    v128.store(dx + p, f32x4.add(f32x4.add(f32x4.mul(v128.load(g + p), av), f32x4.mul(d, bv)), cv));
  }
  for (; i < len; i++) {
    const p = <usize>i << 2;
    store<f32>(dx + p, load<f32>(g + p) * a + (load<f32>(x + p) - mean) * bx + c0);
  }
}

/** gradientPlane with g zeroed where the fused ReLU's output, (x − mean)·scale + shift, was <= 0. */
function gradientPlaneRelu(x: usize, g: usize, dx: usize, len: i32, mean: f32, scale: f32, shift: f32, a: f32, bx: f32, c0: f32): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  const av = f32x4.splat(a);
  const bv = f32x4.splat(bx);
  const cv = f32x4.splat(c0);
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const p = <usize>i << 2;
    const d = f32x4.sub(v128.load(x + p), mv);
    const gv = v128.andnot(v128.load(g + p), f32x4.le(f32x4.add(f32x4.mul(d, sv), hv), zero));
    v128.store(dx + p, f32x4.add(f32x4.add(f32x4.mul(gv, av), f32x4.mul(d, bv)), cv));
  }
  for (; i < len; i++) {
    const p = <usize>i << 2;
    const d = load<f32>(x + p) - mean;
    const gi: f32 = d * scale + shift <= 0 ? 0 : load<f32>(g + p);
    store<f32>(dx + p, gi * a + d * bx + c0);
  }
}

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
 * inside the input), and when argmax is not 0 the flat input index of each window's maximum into it
 * (i32, packed like out). A later tap wins where it is greater or NaN, as nn's TypeScript kernel: the
 * first maximum in scan order, or the last NaN. Four windows at a time, selected with masks.
 */
export function maxPool2x2(x: usize, out: usize, argmax: usize, H: i32, W: i32, oH: i32, oW: i32, p0: i32, p1: i32): void {
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
        const ia = i32x4.add(i32x4.splat(first + 2 * ow), step);
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
        if (argmax != 0) store<i32>(argmax + (<usize>(o + ow) << 2), index);
      }
    }
  }
}

/** Job kinds of elementwiseJob, the one entry worker threads call. */
const BATCH_NORM_FORWARD = 0;
const BATCH_NORM_BACKWARD = 1;
const RELU_FORWARD = 2;
const RELU_BACKWARD = 3;
const ADD_RELU_FORWARD = 4;
const MAX_POOL_2X2 = 5;

/** Runs one job of the kernels above: `kind`, then that kernel's arguments in order (unused ones 0). */
export function elementwiseJob(
  kind: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, a11: i32, a12: i32, a13: i32,
): void {
  switch (kind) {
    case BATCH_NORM_FORWARD:
      batchNormForward(a1, a2, a3, a4, a5, a6, a7, a8 != 0, a9 != 0, a10, a11, a12, a13);
      break;
    case BATCH_NORM_BACKWARD:
      batchNormBackward(a1, a2, a3, a4, a5, a6, a7, a8, a9 != 0, a10 != 0, a11, a12, a13);
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
      maxPool2x2(a1, a2, a3, a4, a5, a6, a7, a8, a9);
      break;
  }
}
