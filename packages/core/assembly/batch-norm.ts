// f32 batch normalisation (optionally with the ReLU that follows it fused in) for @pico/core in WebAssembly
// SIMD, in two phases per direction so that threads split a call by image and channel blocks and the
// loader (src/kernels/wasm/batch-norm-wasm.ts) copies a block in or out while another is computed:
// - forward: per-unit statistics of each block, the per-channel combination (calling thread), then the
//   normalisation of each block;
// - backward: per-unit sums Σgm and Σgm·(x − mean) of each block, the per-channel combination, then the
//   input gradient of each block.
// With a residual r (a residual block's `relu(bn(x) + r)`), the forward's second phase adds r before the ReLU,
// and the backward's first phase reads the mask from the output y and writes gm, r's gradient, over g. A
// gradient that arrives in two parts (a residual block's input: the skip's and the branch's) is added block
// by block in the backward's first phase, before its sums.
// Pointers are byte addresses; tensors are packed NCHW, seen as [n, c, s] with s the product of the trailing axes.
//
// A unit is one channel of a group of `group` consecutive images (at most CHUNK elements unless one plane is
// more: the loader picks the group from s alone), so that every unit lies within one block whatever the blocks are, and the
// per-channel combination adds the units in image order: the results are the same bits for any number of
// threads and any block sizes.
//
// Tables, one entry per channel (c channels):
// - stats, f64 [mean c | var c | invStd c | eps]: a training forward writes the batch's mean and biased
//   variance, an evaluation forward reads the running ones; both write invStd = 1/sqrt(var + eps).
// - table, f32 [mean c | scale c | shift c | a c | bx c | c0 c]: y = (x − mean)·scale + shift, scale = invStd·γ,
//   shift = β, written by the forward (the first 3c) and read by the backward, which recomputes a fused ReLU's
//   mask from x with the very same f32 operations (so the mask is the forward's bit for bit and y need not be
//   kept); the backward's combination writes dx = g·a + (x − mean)·bx + c0.

/** Elements of a plane summed in f32 lanes before the partial moves to f64 (a statistics chunk: its second pass reads L1). */
const CHUNK: i32 = 1024;

// @ts-ignore: decorator
@inline
function lanesSum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

// f32x4 accumulators the run functions below add into (each thread's instance has its own), so that a
// unit of several small planes reduces its lanes to f64 once: a unit spans at most CHUNK elements per lane set.
let acc0 = f32x4.splat(0);
let acc1 = f32x4.splat(0);
let acc2 = f32x4.splat(0);
let acc3 = f32x4.splat(0);
/** Scalar tails of the runs, in f64. */
let tail0: f64 = 0;
let tail1: f64 = 0;

// @ts-ignore: decorator
@inline
function clearAccumulators(): void {
  acc0 = f32x4.splat(0);
  acc1 = f32x4.splat(0);
  acc2 = f32x4.splat(0);
  acc3 = f32x4.splat(0);
  tail0 = 0;
  tail1 = 0;
}

/** Adds x[i] over [0, len) into acc0..acc3 and tail0. */
// @ts-ignore: decorator
@inline
function runSum(x: usize, len: i32): void {
  let s0 = acc0;
  let s1 = acc1;
  let s2 = acc2;
  let s3 = acc3;
  let i = 0;
  for (; i + 16 <= len; i += 16) {
    const p = x + (<usize>i << 2);
    s0 = f32x4.add(s0, v128.load(p));
    s1 = f32x4.add(s1, v128.load(p, 16));
    s2 = f32x4.add(s2, v128.load(p, 32));
    s3 = f32x4.add(s3, v128.load(p, 48));
  }
  for (; i + 4 <= len; i += 4) s0 = f32x4.add(s0, v128.load(x + (<usize>i << 2)));
  let tail: f64 = 0;
  for (; i < len; i++) tail += <f64>load<f32>(x + (<usize>i << 2));
  acc0 = s0;
  acc1 = s1;
  acc2 = s2;
  acc3 = s3;
  tail0 += tail;
}

/** Σ of runSum's accumulators. */
// @ts-ignore: decorator
@inline
function sumTotal(): f64 {
  return lanesSum(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3))) + tail0;
}

/** Adds x[i] − m into acc0, acc1 and tail0, and (x[i] − m)² into acc2, acc3 and tail1, over [0, len). */
// @ts-ignore: decorator
@inline
function runDeviations(x: usize, len: i32, m: f32): void {
  const mv = f32x4.splat(m);
  let d0 = acc0;
  let d1 = acc1;
  let q0 = acc2;
  let q1 = acc3;
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const p = x + (<usize>i << 2);
    const a = f32x4.sub(v128.load(p), mv);
    const b = f32x4.sub(v128.load(p, 16), mv);
    d0 = f32x4.add(d0, a);
    d1 = f32x4.add(d1, b);
    q0 = f32x4.add(q0, f32x4.mul(a, a));
    q1 = f32x4.add(q1, f32x4.mul(b, b));
  }
  for (; i + 4 <= len; i += 4) {
    const a = f32x4.sub(v128.load(x + (<usize>i << 2)), mv);
    d0 = f32x4.add(d0, a);
    q0 = f32x4.add(q0, f32x4.mul(a, a));
  }
  let td: f64 = 0;
  let tq: f64 = 0;
  for (; i < len; i++) {
    const d = <f64>(load<f32>(x + (<usize>i << 2)) - m);
    td += d;
    tq += d * d;
  }
  acc0 = d0;
  acc1 = d1;
  acc2 = q0;
  acc3 = q1;
  tail0 += td;
  tail1 += tq;
}

/**
 * Σx and the squared deviations from the mean, M2, of one unit: `images` planes of s elements starting at
 * `first`, `image` bytes apart. A chunk (the unit's planes when s <= CHUNK, else CHUNK elements of its one
 * plane) is summed, then its deviations from its f32 mean summed from L1 (M2 = Σd² − (Σd)²/count, the mean's
 * rounding taken out); chunks combine in order by Chan's formula. Writes f64 [Σx, M2] at `out`.
 */
function unitStatistics(first: usize, image: usize, images: i32, s: i32, out: usize): void {
  let total: f64 = 0;
  let m2: f64 = 0;
  if (s <= CHUNK) {
    clearAccumulators();
    for (let i = 0; i < images; i++) runSum(first + <usize>i * image, s);
    total = sumTotal();
    const count = <f64>images * <f64>s;
    const m = <f32>(total / count);
    clearAccumulators();
    for (let i = 0; i < images; i++) runDeviations(first + <usize>i * image, s, m);
    const sd = lanesSum(f32x4.add(acc0, acc1)) + tail0;
    const sq = lanesSum(f32x4.add(acc2, acc3)) + tail1;
    m2 = max<f64>(0, sq - (sd * sd) / count);
  } else {
    let count: f64 = 0;
    for (let k = 0; k < s; k += CHUNK) {
      const len = min(CHUNK, s - k);
      const p = first + (<usize>k << 2);
      clearAccumulators();
      runSum(p, len);
      const t = sumTotal();
      const n = <f64>len;
      clearAccumulators();
      runDeviations(p, len, <f32>(t / n));
      const sd = lanesSum(f32x4.add(acc0, acc1)) + tail0;
      const sq = lanesSum(f32x4.add(acc2, acc3)) + tail1;
      const m2k = max<f64>(0, sq - (sd * sd) / n);
      if (count == 0) {
        total = t;
        m2 = m2k;
      } else {
        const d = t / n - total / count;
        m2 += m2k + d * d * ((count * n) / (count + n));
        total += t;
      }
      count += n;
    }
  }
  store<f64>(out, total);
  store<f64>(out, m2, 8);
}

/**
 * Training forward, phase 1: the unit statistics of images [b0, b1) (whole groups) and channels [c0, c1),
 * f64 [Σx, M2] per unit at partials + ((b / group)·c + ch)·16.
 */
function statistics(x: usize, c: i32, s: i32, group: i32, b0: i32, b1: i32, c0: i32, c1: i32, partials: usize): void {
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  for (let b = b0; b < b1; b += group) {
    const images = min(group, b1 - b);
    const row = partials + <usize>(b / group) * <usize>c * 16;
    for (let ch = c0; ch < c1; ch++) unitStatistics(x + <usize>b * image + <usize>ch * plane, image, images, s, row + <usize>ch * 16);
  }
}

/**
 * Forward, between the phases (one thread): with `train`, each channel's mean and biased variance from its
 * units, combined in image order by Chan's formula, into stats; then invStd and the affine table. gamma and
 * beta are f32 [c] or 0 for 1 and 0.
 */
function finishStatistics(c: i32, n: i32, s: i32, group: i32, partials: usize, stats: usize, gamma: usize, beta: usize, table: usize, train: bool): void {
  const eps = load<f64>(stats + (<usize>(3 * c) << 3));
  for (let ch = 0; ch < c; ch++) {
    const at = <usize>ch;
    let mean: f64;
    let variance: f64;
    if (train) {
      let total: f64 = 0;
      let m2: f64 = 0;
      let count: f64 = 0;
      for (let b = 0; b < n; b += group) {
        const unit = partials + (<usize>(b / group) * <usize>c + at) * 16;
        const t = load<f64>(unit);
        const m2u = load<f64>(unit, 8);
        const k = <f64>min(group, n - b) * <f64>s;
        if (count == 0) {
          total = t;
          m2 = m2u;
        } else {
          const d = t / k - total / count;
          m2 += m2u + d * d * ((count * k) / (count + k));
          total += t;
        }
        count += k;
      }
      mean = total / count;
      variance = m2 / count;
      store<f64>(stats + (at << 3), mean);
      store<f64>(stats + ((<usize>c + at) << 3), variance);
    } else {
      mean = load<f64>(stats + (at << 3));
      variance = load<f64>(stats + ((<usize>c + at) << 3));
    }
    const invStd = 1 / Math.sqrt(variance + eps);
    store<f64>(stats + ((<usize>(2 * c) + at) << 3), invStd);
    store<f32>(table + (at << 2), <f32>mean);
    store<f32>(table + ((<usize>c + at) << 2), <f32>(invStd * (gamma == 0 ? 1 : <f64>load<f32>(gamma + (at << 2)))));
    store<f32>(table + ((<usize>(2 * c) + at) << 2), beta == 0 ? <f32>0 : load<f32>(beta + (at << 2)));
  }
}

/** y[i] = (x[i] − mean)·scale + shift over [0, len), then rectified when relu as ReLU's `v < 0 ? 0 : v` (pmax with x first). */
// @ts-ignore: decorator
@inline
function normalizePlane(x: usize, y: usize, len: i32, mean: f32, scale: f32, shift: f32, relu: bool): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  let i = 0;
  if (relu) {
    for (; i + 8 <= len; i += 8) {
      const p = <usize>i << 2;
      const a = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p), mv), sv), hv);
      const b = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p, 16), mv), sv), hv);
      v128.store(y + p, f32x4.pmax(a, zero));
      v128.store(y + p, f32x4.pmax(b, zero), 16);
    }
    for (; i < len; i++) {
      const p = <usize>i << 2;
      const v = (load<f32>(x + p) - mean) * scale + shift;
      store<f32>(y + p, v < 0 ? 0 : v);
    }
  } else {
    for (; i + 8 <= len; i += 8) {
      const p = <usize>i << 2;
      const a = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p), mv), sv), hv);
      const b = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p, 16), mv), sv), hv);
      v128.store(y + p, a);
      v128.store(y + p, b, 16);
    }
    for (; i < len; i++) {
      const p = <usize>i << 2;
      store<f32>(y + p, (load<f32>(x + p) - mean) * scale + shift);
    }
  }
}

/** Forward, phase 2 (normalizeUnits): y = (x − mean)·scale + shift (rectified with relu) over images [b0, b1) and channels [c0, c1); y may be x. */
function normalize(x: usize, y: usize, c: i32, s: i32, b0: i32, b1: i32, c0: i32, c1: i32, relu: bool, table: usize): void {
  normalizeUnits(x, 0, y, c, s, b0, b1, c0, c1, relu, false, table);
}

/** y[i] = max((x[i] − mean)·scale + shift + r[i], 0) over [0, len) as ReLU's `v < 0 ? 0 : v` (the batch norm, then the add, each rounded to f32). */
// @ts-ignore: decorator
@inline
function normalizeAddPlane(x: usize, r: usize, y: usize, len: i32, mean: f32, scale: f32, shift: f32): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const p = <usize>i << 2;
    const a = f32x4.add(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p), mv), sv), hv), v128.load(r + p));
    const b = f32x4.add(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + p, 16), mv), sv), hv), v128.load(r + p, 16));
    v128.store(y + p, f32x4.pmax(a, zero));
    v128.store(y + p, f32x4.pmax(b, zero), 16);
  }
  for (; i < len; i++) {
    const p = <usize>i << 2;
    const v = (load<f32>(x + p) - mean) * scale + shift + load<f32>(r + p);
    store<f32>(y + p, v < 0 ? 0 : v);
  }
}

/**
 * Forward, phase 2, for normalize and normalizeAdd: per image of [b0, b1) and channel of [c0, c1), the mean, scale
 * and shift read from the table, normalizePlane, or with residual (a compile-time constant: the other branch is
 * removed after inlining) normalizeAddPlane with r packed like x.
 */
// @ts-ignore: decorator
@inline
function normalizeUnits(x: usize, r: usize, y: usize, c: i32, s: i32, b0: i32, b1: i32, c0: i32, c1: i32, relu: bool, residual: bool, table: usize): void {
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  for (let b = b0; b < b1; b++) {
    for (let ch = c0; ch < c1; ch++) {
      const at = <usize>ch;
      const off = <usize>b * image + at * plane;
      const mean = load<f32>(table + (at << 2));
      const scale = load<f32>(table + ((<usize>c + at) << 2));
      const shift = load<f32>(table + ((<usize>(2 * c) + at) << 2));
      if (residual) normalizeAddPlane(x + off, r + off, y + off, s, mean, scale, shift);
      else normalizePlane(x + off, y + off, s, mean, scale, shift, relu);
    }
  }
}

/**
 * Forward with a residual, phase 2 (normalizeUnits): y = relu((x − mean)·scale + shift + r) over images [b0, b1)
 * and channels [c0, c1) (r packed like x); y may be x or r.
 */
function normalizeAdd(x: usize, r: usize, y: usize, c: i32, s: i32, b0: i32, b1: i32, c0: i32, c1: i32, table: usize): void {
  normalizeUnits(x, r, y, c, s, b0, b1, c0, c1, true, true, table);
}

/**
 * Adds gm[i] into acc0, acc1 and tail0, and gm[i]·(x[i] − mean) into acc2, acc3 and tail1, over [0, len). gm is g,
 * zeroed with relu where (x − mean)·scale + shift <= 0; when masked (a compile-time constant: the other branch
 * is removed after inlining), zeroed instead where the output y <= 0 (y NaN keeps g) and written to gm (which
 * may be g).
 */
// @ts-ignore: decorator
@inline
function runGradientSums(x: usize, g: usize, y: usize, gm: usize, len: i32, mean: f32, scale: f32, shift: f32, relu: bool, masked: bool): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  let g0 = acc0;
  let g1 = acc1;
  let x0 = acc2;
  let x1 = acc3;
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const p = <usize>i << 2;
    const da = f32x4.sub(v128.load(x + p), mv);
    const db = f32x4.sub(v128.load(x + p, 16), mv);
    let ga = v128.load(g + p);
    let gb = v128.load(g + p, 16);
    if (masked) {
      ga = v128.andnot(ga, f32x4.le(v128.load(y + p), zero));
      gb = v128.andnot(gb, f32x4.le(v128.load(y + p, 16), zero));
      v128.store(gm + p, ga);
      v128.store(gm + p, gb, 16);
    } else if (relu) {
      ga = v128.andnot(ga, f32x4.le(f32x4.add(f32x4.mul(da, sv), hv), zero));
      gb = v128.andnot(gb, f32x4.le(f32x4.add(f32x4.mul(db, sv), hv), zero));
    }
    g0 = f32x4.add(g0, ga);
    g1 = f32x4.add(g1, gb);
    x0 = f32x4.add(x0, f32x4.mul(ga, da));
    x1 = f32x4.add(x1, f32x4.mul(gb, db));
  }
  let tg: f64 = 0;
  let tgx: f64 = 0;
  for (; i < len; i++) {
    const p = <usize>i << 2;
    const d = load<f32>(x + p) - mean;
    let gi = load<f32>(g + p);
    if (masked) {
      if (load<f32>(y + p) <= 0) gi = 0;
      store<f32>(gm + p, gi);
    } else if (relu && d * scale + shift <= 0) gi = 0;
    tg += <f64>gi;
    tgx += <f64>(gi * d);
  }
  acc0 = g0;
  acc1 = g1;
  acc2 = x0;
  acc3 = x1;
  tail0 += tg;
  tail1 += tgx;
}

/**
 * Backward, phase 1, for gradientSums and maskedGradientSums: per unit of images [b0, b1) (whole groups) and
 * channels [c0, c1), f64 [Σgm, Σgm·(x − mean)] at partials + ((b / group)·c + ch)·16 (gm as in runGradientSums),
 * the mean, scale and shift read from the table. Lanes are reduced to f64 once per unit when s <= CHUNK, else
 * once per CHUNK elements.
 */
// @ts-ignore: decorator
@inline
function unitGradientSums(x: usize, g: usize, y: usize, gm: usize, c: i32, s: i32, group: i32, b0: i32, b1: i32, c0: i32, c1: i32, relu: bool, masked: bool, table: usize, partials: usize): void {
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  for (let b = b0; b < b1; b += group) {
    const images = min(group, b1 - b);
    const row = partials + <usize>(b / group) * <usize>c * 16;
    for (let ch = c0; ch < c1; ch++) {
      const at = <usize>ch;
      const mean = load<f32>(table + (at << 2));
      const scale: f32 = masked ? 0 : load<f32>(table + ((<usize>c + at) << 2));
      const shift: f32 = masked ? 0 : load<f32>(table + ((<usize>(2 * c) + at) << 2));
      let tg: f64 = 0;
      let tgx: f64 = 0;
      clearAccumulators();
      for (let i = 0; i < images; i++) {
        const off = <usize>(b + i) * image + at * plane;
        for (let k = 0; k < s; k += CHUNK) {
          const o = off + (<usize>k << 2);
          runGradientSums(x + o, g + o, y + o, gm + o, min(CHUNK, s - k), mean, scale, shift, relu, masked);
          if (s > CHUNK) {
            tg += lanesSum(f32x4.add(acc0, acc1)) + tail0;
            tgx += lanesSum(f32x4.add(acc2, acc3)) + tail1;
            clearAccumulators();
          }
        }
      }
      tg += lanesSum(f32x4.add(acc0, acc1)) + tail0;
      tgx += lanesSum(f32x4.add(acc2, acc3)) + tail1;
      store<f64>(row + at * 16, tg);
      store<f64>(row + at * 16, tgx, 8);
    }
  }
}

/** Backward, phase 1 (unitGradientSums): gm is g, zeroed with relu where (x − mean)·scale + shift <= 0. */
function gradientSums(x: usize, g: usize, c: i32, s: i32, group: i32, b0: i32, b1: i32, c0: i32, c1: i32, relu: bool, table: usize, partials: usize): void {
  unitGradientSums(x, g, 0, 0, c, s, group, b0, b1, c0, c1, relu, false, table, partials);
}

/**
 * Backward with a residual, phase 1 (unitGradientSums): g masked by the output y (a residual added before the
 * ReLU: x alone does not give it), gm written to `gm` (it is also the residual's gradient): over g, or where
 * the residual's gradient lives, g then read in place.
 */
function maskedGradientSums(x: usize, g: usize, y: usize, c: i32, s: i32, group: i32, b0: i32, b1: i32, c0: i32, c1: i32, table: usize, partials: usize, gm: usize): void {
  unitGradientSums(x, g, y, gm, c, s, group, b0, b1, c0, c1, false, true, table, partials);
}

/** g[i] += g2[i] over images [b0, b1) and channels [c0, c1): a gradient that arrived in two parts (a residual block's input). */
function addParts(g: usize, g2: usize, c: i32, s: i32, b0: i32, b1: i32, c0: i32, c1: i32): void {
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  const len = (c1 - c0) * s;
  for (let b = b0; b < b1; b++) {
    const off = <usize>b * image + <usize>c0 * plane;
    const p = g + off;
    const q = g2 + off;
    let i = 0;
    for (; i + 8 <= len; i += 8) {
      const o = <usize>i << 2;
      v128.store(p + o, f32x4.add(v128.load(p + o), v128.load(q + o)));
      v128.store(p + o, f32x4.add(v128.load(p + o, 16), v128.load(q + o, 16)), 16);
    }
    for (; i < len; i++) {
      const o = <usize>i << 2;
      store<f32>(p + o, load<f32>(p + o) + load<f32>(q + o));
    }
  }
}

/**
 * Backward, between the phases (one thread): each channel's units added in image order into sums, f64
 * [Σgm c | Σgm·(x − mean) c]; then the table's coefficients, dx = g·a + (x − mean)·bx + c0: with `train`
 * a = scale, bx = −scale·invStd²·Σgm·(x − mean)/m, c0 = −scale·Σgm/m (m = n·s), else a = scale, bx = c0 = 0.
 */
function finishGradientSums(c: i32, n: i32, s: i32, group: i32, train: bool, partials: usize, stats: usize, table: usize, sums: usize): void {
  for (let ch = 0; ch < c; ch++) {
    const at = <usize>ch;
    let tg: f64 = 0;
    let tgx: f64 = 0;
    for (let b = 0; b < n; b += group) {
      const unit = partials + (<usize>(b / group) * <usize>c + at) * 16;
      tg += load<f64>(unit);
      tgx += load<f64>(unit, 8);
    }
    store<f64>(sums + (at << 3), tg);
    store<f64>(sums + ((<usize>c + at) << 3), tgx);
    store<f32>(table + ((<usize>(3 * c) + at) << 2), load<f32>(table + ((<usize>c + at) << 2)));
    store<f32>(table + ((<usize>(4 * c) + at) << 2), 0);
    store<f32>(table + ((<usize>(5 * c) + at) << 2), 0);
  }
  if (train) gradientCoefficients(c, <f64>n * <f64>s, stats, table, sums);
}

/**
 * Training: the input gradient's coefficients bx and c0 (table f32 [4c, 6c)) from the sums Σgm and
 * Σgm·(x − mean) (f64 [c | c] at sums) over `count` values per channel: this shard's, or (synchronized
 * BatchNorm) the whole batch's.
 */
function gradientCoefficients(c: i32, count: f64, stats: usize, table: usize, sums: usize): void {
  for (let ch = 0; ch < c; ch++) {
    const at = <usize>ch;
    const scale = load<f32>(table + ((<usize>c + at) << 2));
    const invStd = load<f64>(stats + ((<usize>(2 * c) + at) << 3));
    store<f32>(table + ((<usize>(4 * c) + at) << 2), <f32>(-<f64>scale * (load<f64>(sums + ((<usize>c + at) << 3)) * invStd * invStd) / count));
    store<f32>(table + ((<usize>(5 * c) + at) << 2), <f32>(-<f64>scale * load<f64>(sums + (at << 3)) / count));
  }
}

/**
 * Evaluation: dx[i] = gm[i]·scale over [0, len). x enters only the mask (the statistics are constants), so a
 * NaN input does not reach its own gradient, as in PyTorch.
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

/** dx[i] = gm[i]·a + (x[i] − mean)·bx + c0 over [0, len), gm being g zeroed with relu where (x − mean)·scale + shift <= 0. */
// @ts-ignore: decorator
@inline
function gradientPlane(x: usize, g: usize, dx: usize, len: i32, mean: f32, scale: f32, shift: f32, a: f32, bx: f32, c0: f32, relu: bool): void {
  const mv = f32x4.splat(mean);
  const sv = f32x4.splat(scale);
  const hv = f32x4.splat(shift);
  const zero = f32x4.splat(0);
  const av = f32x4.splat(a);
  const bv = f32x4.splat(bx);
  const cv = f32x4.splat(c0);
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const p = <usize>i << 2;
    const da = f32x4.sub(v128.load(x + p), mv);
    const db = f32x4.sub(v128.load(x + p, 16), mv);
    let ga = v128.load(g + p);
    let gb = v128.load(g + p, 16);
    if (relu) {
      ga = v128.andnot(ga, f32x4.le(f32x4.add(f32x4.mul(da, sv), hv), zero));
      gb = v128.andnot(gb, f32x4.le(f32x4.add(f32x4.mul(db, sv), hv), zero));
    }
    v128.store(dx + p, f32x4.add(f32x4.add(f32x4.mul(ga, av), f32x4.mul(da, bv)), cv));
    v128.store(dx + p, f32x4.add(f32x4.add(f32x4.mul(gb, av), f32x4.mul(db, bv)), cv), 16);
  }
  for (; i < len; i++) {
    const p = <usize>i << 2;
    const d = load<f32>(x + p) - mean;
    const gi: f32 = relu && d * scale + shift <= 0 ? 0 : load<f32>(g + p);
    store<f32>(dx + p, gi * a + d * bx + c0);
  }
}

/** Backward, phase 2: dx over images [b0, b1) and channels [c0, c1) from the table's coefficients; dx may be g. */
function gradientInput(x: usize, g: usize, dx: usize, c: i32, s: i32, b0: i32, b1: i32, c0: i32, c1: i32, train: bool, relu: bool, table: usize): void {
  const plane = <usize>s << 2;
  const image = <usize>c * plane;
  for (let b = b0; b < b1; b++) {
    for (let ch = c0; ch < c1; ch++) {
      const at = <usize>ch;
      const off = <usize>b * image + at * plane;
      const mean = load<f32>(table + (at << 2));
      const scale = load<f32>(table + ((<usize>c + at) << 2));
      const shift = load<f32>(table + ((<usize>(2 * c) + at) << 2));
      if (!train) scaledPlane(x + off, g + off, dx + off, s, mean, scale, shift, relu);
      else {
        const a = load<f32>(table + ((<usize>(3 * c) + at) << 2));
        const bx = load<f32>(table + ((<usize>(4 * c) + at) << 2));
        const c0v = load<f32>(table + ((<usize>(5 * c) + at) << 2));
        gradientPlane(x + off, g + off, dx + off, s, mean, scale, shift, a, bx, c0v, relu);
      }
    }
  }
}

/** Steps of batchNormJob (the loader's BN_* constants). */
const STATISTICS = 0;
const FINISH_STATISTICS = 1;
const NORMALIZE = 2;
const GRADIENT_SUMS = 3;
const FINISH_GRADIENT_SUMS = 4;
const GRADIENT_INPUT = 5;
const GRADIENT_COEFFICIENTS = 6;
const NORMALIZE_ADD = 7;
const MASKED_GRADIENT_SUMS = 8;
const PARTS_GRADIENT_SUMS = 9;
const PARTS_GRADIENT_SUMS_RELU = 10;

/** Runs one step of the batch norm above: `step`, then its arguments in order (unused ones 0). */
export function batchNormJob(step: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, a11: i32, a12: i32, a13: i32): void {
  switch (step) {
    case STATISTICS:
      statistics(a1, a2, a3, a4, a5, a6, a7, a8, a9);
      break;
    case FINISH_STATISTICS:
      finishStatistics(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 != 0);
      break;
    case NORMALIZE:
      normalize(a1, a2, a3, a4, a5, a6, a7, a8, a9 != 0, a10);
      break;
    case GRADIENT_SUMS:
      gradientSums(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 != 0, a11, a12);
      break;
    case FINISH_GRADIENT_SUMS:
      finishGradientSums(a1, a2, a3, a4, a5 != 0, a6, a7, a8, a9);
      break;
    case GRADIENT_INPUT:
      gradientInput(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 != 0, a11 != 0, a12);
      break;
    case GRADIENT_COEFFICIENTS:
      gradientCoefficients(a1, <f64>a2, a3, a4, a5);
      break;
    case NORMALIZE_ADD:
      normalizeAdd(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);
      break;
    case MASKED_GRADIENT_SUMS:
      maskedGradientSums(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13);
      break;
    case PARTS_GRADIENT_SUMS:
    case PARTS_GRADIENT_SUMS_RELU:
      // (x, g, g2, c, s, group, b0, b1, c0, c1, table, partials): g += g2 over the block, then gradientSums.
      addParts(a2, a3, a4, a5, a7, a8, a9, a10);
      gradientSums(a1, a2, a4, a5, a6, a7, a8, a9, a10, step == PARTS_GRADIENT_SUMS_RELU, a11, a12);
      break;
  }
}
