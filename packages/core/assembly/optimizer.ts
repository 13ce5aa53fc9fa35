// The optimizers' updates (@pico/optim's SGD with momentum, Adam and AdamW) on f32 arrays in WebAssembly SIMD,
// two f64 lanes at a time: every value is computed in f64 and rounded to f32 where the TypeScript loops
// (src/kernels/optimizer.ts) store it into a Float32Array and read it back, in the same order of operations,
// so the results are theirs bit for bit. Over an element range [i0, i1) whose length is a multiple of 4
// (the loader pads its regions; lanes past the end compute garbage nobody reads). Pointers are byte
// addresses; the hyperparameters are f64s at `hyper`, in the order of the constants below.

/** sgdStep's hyperparameters, f64 each, and its flags (the last f64, an integer). */
const SGD_LR = 0;
const SGD_MOMENTUM = 8;
const SGD_KEEP = 16;
const SGD_DECAY = 24;
const SGD_SIGN = 32;
const SGD_FLAGS = 40;
/** Flags: add decay·p to the gradient; the momentum buffer's first step (buf = d); Nesterov. */
const WITH_DECAY = 1;
const FIRST = 2;
const NESTEROV = 4;

/** adamStep's hyperparameters, f64 each, and its flags (WITH_DECAY: coupled decay l2·p). */
const ADAM_SHRINK = 0;
const ADAM_L2 = 8;
const ADAM_SIGN = 16;
const ADAM_KEEP1 = 24;
const ADAM_BETA2 = 32;
const ADAM_KEEP2 = 40;
const ADAM_STEP_SIZE = 48;
const ADAM_INVERSE_CORRECTION2 = 56;
const ADAM_EPS = 64;
const ADAM_FLAGS = 72;

/** Lanes 0-1 of four f32s as two f64s. */
// @ts-ignore: decorator
@inline
function low(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}

/** Lanes 2-3 of four f32s as two f64s. */
// @ts-ignore: decorator
@inline
function high(x: v128): v128 {
  return f64x2.promote_low_f32x4(i64x2.shuffle(x, x, 1, 0));
}

/** Two pairs of f64s rounded into four f32s (lo's first). */
// @ts-ignore: decorator
@inline
function join(lo: v128, hi: v128): v128 {
  return i64x2.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 2);
}

/** Each f64 rounded to f32 and back: a value stored into a Float32Array and read again. */
// @ts-ignore: decorator
@inline
function round(x: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(x));
}

/** One pair of sgdStep's lanes: returns the new p (f64) and leaves the new buffer in `sgdBuffer`. */
let sgdBuffer: v128 = f64x2.splat(0);

// @ts-ignore: decorator
@inline
function sgdPair(p: v128, g: v128, b: v128, withBuffer: bool, flags: i32, lr: v128, momentum: v128, keep: v128, decay: v128, sign: v128): v128 {
  let d = f64x2.mul(sign, g);
  if (flags & WITH_DECAY) d = f64x2.add(d, f64x2.mul(decay, p));
  let step = d;
  if (withBuffer) {
    const nb = round(flags & FIRST ? d : f64x2.add(f64x2.mul(momentum, b), f64x2.mul(keep, d)));
    sgdBuffer = nb;
    step = flags & NESTEROV ? f64x2.add(d, f64x2.mul(momentum, nb)) : nb;
  }
  return f64x2.sub(p, f64x2.mul(lr, step));
}

/**
 * PyTorch's SGD step on p[i0, i1) (src/kernels/optimizer.ts's sgdUpdate): d = sign·g (+ decay·p), with a
 * momentum buffer (buf != 0) buf = first ? d : momentum·buf + keep·d, d = nesterov ? d + momentum·buf : buf;
 * then p -= lr·d.
 */
export function sgdStep(hyper: usize, p: usize, g: usize, buf: usize, i0: i32, i1: i32): void {
  const lr = f64x2.splat(load<f64>(hyper, SGD_LR));
  const momentum = f64x2.splat(load<f64>(hyper, SGD_MOMENTUM));
  const keep = f64x2.splat(load<f64>(hyper, SGD_KEEP));
  const decay = f64x2.splat(load<f64>(hyper, SGD_DECAY));
  const sign = f64x2.splat(load<f64>(hyper, SGD_SIGN));
  const flags = <i32>load<f64>(hyper, SGD_FLAGS);
  const zero = f64x2.splat(0);
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    const pv = v128.load(p + o);
    const gv = v128.load(g + o);
    if (buf == 0) {
      const lo = sgdPair(low(pv), low(gv), zero, false, flags, lr, momentum, keep, decay, sign);
      const hi = sgdPair(high(pv), high(gv), zero, false, flags, lr, momentum, keep, decay, sign);
      v128.store(p + o, join(lo, hi));
    } else {
      const bv = v128.load(buf + o);
      const lo = sgdPair(low(pv), low(gv), low(bv), true, flags, lr, momentum, keep, decay, sign);
      const bLo = sgdBuffer;
      const hi = sgdPair(high(pv), high(gv), high(bv), true, flags, lr, momentum, keep, decay, sign);
      v128.store(p + o, join(lo, hi));
      v128.store(buf + o, join(bLo, sgdBuffer));
    }
  }
}

/** adamPair's new moments and second-moment maximum, left here for the caller to store. */
let adamM: v128 = f64x2.splat(0);
let adamV: v128 = f64x2.splat(0);
let adamSecond: v128 = f64x2.splat(0);

// @ts-ignore: decorator
@inline
function adamPair(
  p: v128, g: v128, m: v128, v: v128, vmax: v128, withMax: bool, flags: i32,
  shrink: v128, l2: v128, sign: v128, keep1: v128, beta2: v128, keep2: v128, stepSize: v128, inverseCorrection2: v128, eps: v128,
): v128 {
  const pi = f64x2.mul(p, shrink);
  let gi = f64x2.mul(sign, g);
  if (flags & WITH_DECAY) gi = f64x2.add(gi, f64x2.mul(l2, pi));
  const nm = round(f64x2.add(m, f64x2.mul(keep1, f64x2.sub(gi, m))));
  const nv = round(f64x2.add(f64x2.mul(beta2, v), f64x2.mul(f64x2.mul(keep2, gi), gi)));
  let second = nv;
  // `vmax > second ? vmax : second`: a NaN in either keeps second.
  if (withMax) second = v128.bitselect(vmax, nv, f64x2.gt(vmax, nv));
  adamM = nm;
  adamV = nv;
  adamSecond = second;
  return f64x2.sub(pi, f64x2.div(f64x2.mul(stepSize, nm), f64x2.add(f64x2.mul(f64x2.sqrt(second), inverseCorrection2), eps)));
}

/**
 * PyTorch's Adam / AdamW step on p[i0, i1) (src/kernels/optimizer.ts's adamUpdate): p·shrink, g = sign·g
 * (+ l2·p), m += keep1·(g − m), v = β2·v + keep2·g², v̂ = max(vmax, v) when vmax != 0 (amsgrad),
 * p -= stepSize·m / (sqrt(v̂)·inverseCorrection2 + eps).
 */
export function adamStep(hyper: usize, p: usize, g: usize, m: usize, v: usize, vmax: usize, i0: i32, i1: i32): void {
  const shrink = f64x2.splat(load<f64>(hyper, ADAM_SHRINK));
  const l2 = f64x2.splat(load<f64>(hyper, ADAM_L2));
  const sign = f64x2.splat(load<f64>(hyper, ADAM_SIGN));
  const keep1 = f64x2.splat(load<f64>(hyper, ADAM_KEEP1));
  const beta2 = f64x2.splat(load<f64>(hyper, ADAM_BETA2));
  const keep2 = f64x2.splat(load<f64>(hyper, ADAM_KEEP2));
  const stepSize = f64x2.splat(load<f64>(hyper, ADAM_STEP_SIZE));
  const inverseCorrection2 = f64x2.splat(load<f64>(hyper, ADAM_INVERSE_CORRECTION2));
  const eps = f64x2.splat(load<f64>(hyper, ADAM_EPS));
  const flags = <i32>load<f64>(hyper, ADAM_FLAGS);
  const zero = f64x2.splat(0);
  for (let i = i0; i < i1; i += 4) {
    const o = <usize>i << 2;
    const pv = v128.load(p + o);
    const gv = v128.load(g + o);
    const mv = v128.load(m + o);
    const vv = v128.load(v + o);
    if (vmax == 0) {
      const lo = adamPair(low(pv), low(gv), low(mv), low(vv), zero, false, flags, shrink, l2, sign, keep1, beta2, keep2, stepSize, inverseCorrection2, eps);
      const mLo = adamM;
      const vLo = adamV;
      const hi = adamPair(high(pv), high(gv), high(mv), high(vv), zero, false, flags, shrink, l2, sign, keep1, beta2, keep2, stepSize, inverseCorrection2, eps);
      v128.store(p + o, join(lo, hi));
      v128.store(m + o, join(mLo, adamM));
      v128.store(v + o, join(vLo, adamV));
    } else {
      const xv = v128.load(vmax + o);
      const lo = adamPair(low(pv), low(gv), low(mv), low(vv), low(xv), true, flags, shrink, l2, sign, keep1, beta2, keep2, stepSize, inverseCorrection2, eps);
      const mLo = adamM;
      const vLo = adamV;
      const sLo = adamSecond;
      const hi = adamPair(high(pv), high(gv), high(mv), high(vv), high(xv), true, flags, shrink, l2, sign, keep1, beta2, keep2, stepSize, inverseCorrection2, eps);
      v128.store(p + o, join(lo, hi));
      v128.store(m + o, join(mLo, adamM));
      v128.store(v + o, join(vLo, adamV));
      v128.store(vmax + o, join(sLo, adamSecond));
    }
  }
}
