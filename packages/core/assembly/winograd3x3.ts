// 3×3 convolution (stride 1, any padding) by Winograd's F(4×4, 3×3) (Lavin & Gray 2015, interpolation
// points 0, ±1, ±2, ∞): each 4×4 output tile comes from a 6×6 input tile through 36 products per channel
// pair instead of 144. Per batch of tiles: the input tiles are transformed (V = Bᵀ·d·B), the 36 tile
// positions are 36 GEMMs M[pos] = U[pos] · V[pos] (U = G·g·Gᵀ, the transformed weights) run by gemm.ts,
// and the outputs come back by Y = Aᵀ·M·A. The input gradient of such a convolution is one too (the
// loader passes the flipped, transposed weights), so training uses it in both directions.
// Matrices verified symbolically (sympy: Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A equals the direct 4×4 correlation).
import { gemmRows, workBytes } from "./gemm";
import { Geometry } from "./geometry";
import { inputTransform } from "./winograd-transforms";

/**
 * dst[0..count) = src[0..count), floats: a row of an image is too short (32 to 128 bytes) for memory.copy,
 * which the engine runs as a call, to pay.
 */
// @ts-ignore: decorator
@inline
function copyRow(dst: usize, src: usize, count: i32): void {
  let q = 0;
  for (; q + 8 <= count; q += 8) {
    const at = <usize>q << 2;
    v128.store(dst + at, v128.load(src + at));
    v128.store(dst + at, v128.load(src + at, 16), 16);
  }
  for (; q + 4 <= count; q += 4) v128.store(dst + (<usize>q << 2), v128.load(src + (<usize>q << 2)));
  for (; q < count; q++) store<f32>(dst + (<usize>q << 2), load<f32>(src + (<usize>q << 2)));
}

/** Per tile, the padded input holds a 6×6 window; rows carry 2 more floats so a tile's second vector load (columns 4..7) stays inside. */
// @ts-ignore: decorator
@inline
function paddedWidth(tilesW: i32): i32 {
  return tilesW * 4 + 4;
}

// @ts-ignore: decorator
@inline
function paddedHeight(tilesH: i32): i32 {
  return tilesH * 4 + 2;
}

// @ts-ignore: decorator
@inline
function roundUp4(x: i32): i32 {
  return (x + 3) & ~3;
}

/**
 * Floats between tile positions in V, M and the gradient's transforms: a [rows, T4] matrix per position
 * plus one cache line, so that the 36 positions a transform writes (or reads) together fall in 36
 * different L1 sets instead of one (rows·T4 floats is a multiple of 4 KiB for the usual sizes).
 */
// @ts-ignore: decorator
@inline
function posFloats(rows: i32, T4: i32): i32 {
  return rows * T4 + 16;
}

/** Whether conv2dWinograd3x3 computes this geometry: one group, 3×3, unit stride and dilation. */
export function winograd3x3Fits(geo: usize): bool {
  const g = changetype<Geometry>(geo);
  return g.groups == 1 && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1 &&
    g.dilationHeight == 1 && g.dilationWidth == 1;
}

/** Whether conv2dWinograd3x3 can pool this geometry (2×2, stride 2): whole 4×4 tiles, which pool to whole 2×2 ones. */
export function winograd3x3PoolFits(geo: usize): bool {
  const g = changetype<Geometry>(geo);
  return winograd3x3Fits(geo) && (g.outHeight & 3) == 0 && (g.outWidth & 3) == 0;
}

/** 4×4 output tiles per image. */
export function winograd3x3Tiles(geo: usize): i32 {
  const g = changetype<Geometry>(geo);
  return ((g.outHeight + 3) >> 2) * ((g.outWidth + 3) >> 2);
}

/** Bytes of scratch conv2dWinograd3x3 needs for `images` images per batch of tiles. */
export function winograd3x3ScratchBytes(geo: usize, images: i32): i32 {
  const g = changetype<Geometry>(geo);
  const tH = (g.outHeight + 3) >> 2, tW = (g.outWidth + 3) >> 2;
  const padded = images * g.inChannels * paddedHeight(tH) * paddedWidth(tW);
  const T4 = roundUp4(images * tH * tW);
  const transformed = 36 * (posFloats(g.inChannels, T4) + posFloats(g.outChannels, T4)) + 24 * 4 + 36 * 4 + T4;
  return (padded + transformed) * 4 + workBytes(g.outChannels, T4, g.inChannels) + 256;
}

/**
 * G·v for the 3 vectors v0..v2 (G, 6×3, of F(4×4, 3×3): rows [1/4, 0, 0], −[1, 1, 1]/6, −[1, −1, 1]/6,
 * [1/24, 1/12, 1/6], [1/24, −1/12, 1/6], [0, 0, 1]): 6 vectors at out, `step` bytes apart.
 */
// @ts-ignore: decorator
@inline
function weightTransform(v0: v128, v1: v128, v2: v128, out: usize, step: usize): void {
  const sixth = f32x4.splat(1.0 / 6);
  const even = f32x4.add(v0, v2);
  const a = f32x4.mul(f32x4.splat(1.0 / 24), v0), b = f32x4.mul(f32x4.splat(1.0 / 12), v1), c = f32x4.mul(sixth, v2);
  v128.store(out, f32x4.mul(f32x4.splat(0.25), v0));
  v128.store(out + step, f32x4.neg(f32x4.mul(sixth, f32x4.add(even, v1))));
  v128.store(out + 2 * step, f32x4.mul(sixth, f32x4.sub(v1, even)));
  v128.store(out + 3 * step, f32x4.add(f32x4.add(a, b), c));
  v128.store(out + 4 * step, f32x4.add(f32x4.sub(a, b), c));
  v128.store(out + 5 * step, v2);
}

/** Gᵀ·d for the 6 vectors d0..d5 (the adjoint of weightTransform): 3 vectors at out, `step` bytes apart. */
// @ts-ignore: decorator
@inline
function weightTransformAdjoint(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, out: usize, step: usize): void {
  const sixth = f32x4.splat(1.0 / 6);
  const s12 = f32x4.add(d1, d2), s34 = f32x4.add(d3, d4);
  v128.store(out, f32x4.add(f32x4.sub(f32x4.mul(f32x4.splat(0.25), d0), f32x4.mul(sixth, s12)), f32x4.mul(f32x4.splat(1.0 / 24), s34)));
  v128.store(out + step, f32x4.add(f32x4.mul(sixth, f32x4.sub(d2, d1)), f32x4.mul(f32x4.splat(1.0 / 12), f32x4.sub(d3, d4))));
  v128.store(out + 2 * step, f32x4.add(f32x4.mul(sixth, f32x4.sub(s34, s12)), d5));
}

/**
 * Four 3×3 kernels (`lanes` of them, the rest zeros), tap k as vector k (lane j from kernel j) at
 * `out`, 9 vectors: kernel j's tap k read at first + j·laneBytes + k·tapBytes.
 */
// @ts-ignore: decorator
@inline
function gatherKernels(first: usize, laneBytes: usize, tapBytes: isize, lanes: i32, out: usize): void {
  for (let k = 0; k < 9; k++) {
    let v = f32x4.splat(0);
    const at = first + <usize>(<isize>k * tapBytes);
    v = f32x4.replace_lane(v, 0, load<f32>(at));
    if (lanes > 1) v = f32x4.replace_lane(v, 1, load<f32>(at + laneBytes));
    if (lanes > 2) v = f32x4.replace_lane(v, 2, load<f32>(at + 2 * laneBytes));
    if (lanes > 3) v = f32x4.replace_lane(v, 3, load<f32>(at + 3 * laneBytes));
    v128.store(out + (<usize>k << 4), v);
  }
}

/** Vectors of scratch the weight transforms need: the kernels (9), G·g (18), and 36 positions of four vectors of channels. */
const WEIGHT_SCRATCH_VECTORS: i32 = 9 + 18 + 4 * 36;

/**
 * Scratch for the weight transforms of the whole weights. Static: only the calling thread transforms them
 * whole; the threads' ranges (winograd3x3WeightsRange) bring scratch of their own.
 */
const WEIGHT_SCRATCH = memory.data(WEIGHT_SCRATCH_VECTORS * 16, 16);

/**
 * u[pos][o][c] = (G·w[o][c]·Gᵀ)[pos] (pos = 6·row + column) for w [O, C, 3, 3], in float32, four input
 * channels per vector.
 */
export function winograd3x3Weights(w: usize, O: i32, C: i32, dst: usize): void {
  transformWeights(w, O, C, false, dst, 0, O, WEIGHT_SCRATCH);
}

/**
 * winograd3x3Weights for the convolution that computes the input gradient of one with weights
 * w [C, O, 3, 3] (stride 1): its kernel (o, c) is w[c][o] rotated by 180°, read in place from w.
 */
export function winograd3x3FlippedWeights(w: usize, O: i32, C: i32, dst: usize): void {
  transformWeights(w, O, C, true, dst, 0, O, WEIGHT_SCRATCH);
}

/** Bytes of scratch winograd3x3WeightsRange needs. */
export function winograd3x3WeightsScratchBytes(): i32 {
  return WEIGHT_SCRATCH_VECTORS * 16;
}

/**
 * winograd3x3Weights (or, `flipped`, winograd3x3FlippedWeights) for output channels [o0, o1) only, with
 * winograd3x3WeightsScratchBytes() bytes of `scratch` of its own: the threads each transform a range.
 */
export function winograd3x3WeightsRange(w: usize, O: i32, C: i32, flipped: bool, dst: usize, o0: i32, o1: i32, scratch: usize): void {
  transformWeights(w, O, C, flipped, dst, o0, o1, scratch);
}

/**
 * Sixteen input channels (a cache line of each position) at a time: their 36 positions are kept in
 * scratch and stored a whole line per position, since the positions lie O·C floats apart (often a
 * multiple of 4 KiB) and a vector at a time to each evicted the other positions' lines before they were
 * full (the same cache sets; winograd3x3WeightsBackward reads them likewise).
 */
function transformWeights(w: usize, O: i32, C: i32, flipped: bool, dst: usize, o0: i32, o1: i32, scratch: usize): void {
  const g = scratch, gg = g + 9 * 16, u = gg + 18 * 16;
  const posBytes = <usize>(O * C) << 2;
  for (let o = o0; o < o1; o++) {
    for (let c1 = 0; c1 < C; c1 += 16) {
      const vectors = min(4, (C - c1 + 3) >> 2);
      // u_v[pos] (36 vectors at u + v·36·16): channels c1 + 4v .. + 3 of position pos.
      for (let v = 0; v < vectors; v++) {
        const c0 = c1 + 4 * v;
        const lanes = min(4, C - c0);
        if (flipped) gatherKernels(w + (<usize>((c0 * O + o) * 9 + 8) << 2), <usize>(O * 9) << 2, -4, lanes, g);
        else gatherKernels(w + (<usize>((o * C + c0) * 9) << 2), 36, 4, lanes, g);
        // gg[i][b] = (G·g)[i][b], column b of g at a time; then u[i][j] = (gg·Gᵀ)[i][j], row i at a time.
        for (let b = 0; b < 3; b++) weightTransform(v128.load(g + (<usize>b << 4)), v128.load(g + (<usize>(3 + b) << 4)), v128.load(g + (<usize>(6 + b) << 4)), gg + (<usize>b << 4), 48);
        const uv = u + <usize>(v * 36) * 16;
        for (let i = 0; i < 6; i++) {
          const row = gg + <usize>(i * 48);
          weightTransform(v128.load(row), v128.load(row, 16), v128.load(row, 32), uv + <usize>(i * 96), 16);
        }
      }
      const at = dst + (<usize>(o * C + c1) << 2);
      for (let pos = 0; pos < 36; pos++) {
        const d = at + <usize>pos * posBytes;
        for (let v = 0; v < vectors; v++) {
          const x = v128.load(u + <usize>(v * 36 + pos) * 16);
          const lanes = min(4, C - c1 - 4 * v);
          const q = d + (<usize>v << 4);
          if (lanes == 4) {
            v128.store(q, x);
          } else {
            store<f32>(q, f32x4.extract_lane(x, 0));
            if (lanes > 1) store<f32>(q, f32x4.extract_lane(x, 1), 4);
            if (lanes > 2) store<f32>(q, f32x4.extract_lane(x, 2), 8);
          }
        }
      }
    }
  }
}

/** Rows r0..r3 of a 4×4 block transposed: lane k of the j-th result is lane j of rk. */
// @ts-ignore: decorator
@inline
function transposeStore(r0: v128, r1: v128, r2: v128, r3: v128, out: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out + step, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(out + 2 * step, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(out + 3 * step, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/** Aᵀ·m for 6 vectors m0..m5 (each 4 tiles' worth): 4 vectors at out, `step` bytes apart. */
// @ts-ignore: decorator
@inline
function outputTransform(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, out: usize, step: usize): void {
  const a = f32x4.add(m1, m2), b = f32x4.sub(m1, m2);
  const c = f32x4.add(m3, m4), e = f32x4.sub(m3, m4);
  v128.store(out, f32x4.add(f32x4.add(m0, a), c));
  v128.store(out + step, f32x4.add(b, f32x4.mul(f32x4.splat(2), e)));
  v128.store(out + 2 * step, f32x4.add(a, f32x4.mul(f32x4.splat(4), c)));
  v128.store(out + 3 * step, f32x4.add(f32x4.add(b, f32x4.mul(f32x4.splat(8), e)), m5));
}

/**
 * V[pos][c][t] = (Bᵀ·d·B)[pos] for tile t's 6×6 window d in channel c, for the tiles of `nb` images at
 * `x` (T = nb·tiles, padded to T4 with copies of tile 0), four tiles per vector; their planes go first
 * into `padded` with their zero padding, so that every tile reads a full window. `tmp`: 36 vectors.
 */
function transformInput(g: Geometry, x: usize, nb: i32, padded: usize, V: usize, T4: i32, tmp: usize): void {
  const C = g.inChannels, H = g.inHeight, W = g.inWidth, pH = g.padHeight, pW = g.padWidth;
  const tH = (g.outHeight + 3) >> 2, tW = (g.outWidth + 3) >> 2;
  const tiles = tH * tW;
  const T = nb * tiles;
  const Hp = paddedHeight(tH), Wp = paddedWidth(tW);
  const plane = Hp * Wp;
  const WpBytes = <usize>Wp << 2;
  const rowCopy = min(W, Wp - pW);
  // Each image's planes with their zero padding, so that every tile reads a full 6×6 window.
  memory.fill(padded, 0, <usize>(nb * C * plane) << 2);
  for (let p = 0; p < nb * C; p++) {
    const src = x + (<usize>(p * H * W) << 2);
    const dst = padded + (<usize>(p * plane + pH * Wp + pW) << 2);
    const rows = min(H, Hp - pH);
    for (let r = 0; r < rows; r++) copyRow(dst + <usize>r * WpBytes, src + (<usize>(r * W) << 2), rowCopy);
  }
  // Then the windows, four tiles per vector.
  const vPos = <usize>posFloats(C, T4) << 2;
  for (let t0 = 0; t0 < T4; t0 += 4) {
    let b0: usize = 0, b1: usize = 0, b2: usize = 0, b3: usize = 0;
    for (let k = 0; k < 4; k++) {
      const t = t0 + k < T ? t0 + k : 0;
      const img = t / tiles, rem = t % tiles;
      const at = padded + (<usize>(img * C * plane + (rem / tW) * 4 * Wp + (rem % tW) * 4) << 2);
      if (k == 0) b0 = at; else if (k == 1) b1 = at; else if (k == 2) b2 = at; else b3 = at;
    }
    for (let c = 0; c < C; c++) {
      const cOff = <usize>(c * plane) << 2;
      for (let r = 0; r < 6; r++) {
        const off = cOff + <usize>r * WpBytes;
        const a0 = v128.load(b0 + off), a1 = v128.load(b1 + off), a2 = v128.load(b2 + off), a3 = v128.load(b3 + off);
        const e0 = v128.load(b0 + off, 16), e1 = v128.load(b1 + off, 16), e2 = v128.load(b2 + off, 16), e3 = v128.load(b3 + off, 16);
        // Column j of the four windows: lane k from tile k.
        const s0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), s1 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7);
        const s2 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), s3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
        const f0 = v128.shuffle<f32>(e0, e1, 0, 4, 1, 5), f2 = v128.shuffle<f32>(e2, e3, 0, 4, 1, 5);
        inputTransform(
          v128.shuffle<f32>(s0, s2, 0, 1, 4, 5), v128.shuffle<f32>(s0, s2, 2, 3, 6, 7),
          v128.shuffle<f32>(s1, s3, 0, 1, 4, 5), v128.shuffle<f32>(s1, s3, 2, 3, 6, 7),
          v128.shuffle<f32>(f0, f2, 0, 1, 4, 5), v128.shuffle<f32>(f0, f2, 2, 3, 6, 7),
          tmp + <usize>(r * 6 * 16), 16,
        );
      }
      const dst = V + (<usize>(c * T4 + t0) << 2);
      for (let q = 0; q < 6; q++) {
        const col = tmp + <usize>(q * 16);
        inputTransform(
          v128.load(col), v128.load(col, 96), v128.load(col, 192), v128.load(col, 288), v128.load(col, 384), v128.load(col, 480),
          dst + <usize>q * vPos, 6 * vPos,
        );
      }
    }
  }
}

/**
 * out[count, O, oH, oW] = W ⊛ x (+ bias) (then max(·, 0) with `relu`) for `count` images at `x`
 * [count, C, H, W], a geometry winograd3x3Fits accepts, `u` winograd3x3Weights' output for its weights.
 * `images` images go through at a time in `scratch` (winograd3x3ScratchBytes(geo, images) bytes): their
 * planes copied with zero padding, the transformed tiles V [36][C][T], the products M [36][O][T], the
 * GEMM's work area. Tiles are numbered over the batch; their count T is padded to a multiple of 4 with
 * copies of the first tile, whose results are dropped. With `pool` (oH and oW multiples of 4, see
 * winograd3x3PoolFits), `out` [count, O, oH/2, oW/2] receives the 2×2 max pooling with stride 2 of the
 * result instead: each 4×4 tile pools to a 2×2 one, bias and ReLU applied after the maximum (both
 * commute with it), so the convolution output is never stored.
 */
export function conv2dWinograd3x3(geo: usize, count: i32, x: usize, u: usize, bias: usize, out: usize, relu: bool, images: i32, scratch: usize, pool: bool): void {
  const g = changetype<Geometry>(geo);
  const C = g.inChannels, O = g.outChannels, H = g.inHeight, W = g.inWidth, oH = g.outHeight, oW = g.outWidth;
  const pH = g.padHeight, pW = g.padWidth;
  const tH = (oH + 3) >> 2, tW = (oW + 3) >> 2;
  const tiles = tH * tW;
  const Hp = paddedHeight(tH), Wp = paddedWidth(tW);
  const plane = Hp * Wp;
  const WpBytes = <usize>Wp << 2;
  const padded = scratch;
  const V = (padded + (<usize>(images * C * plane) << 2) + 63) & ~63;
  const T4max = roundUp4(images * tiles);
  const M = V + (<usize>(36 * posFloats(C, T4max)) << 2);
  const tmp = M + (<usize>(36 * posFloats(O, T4max)) << 2);   // 36 vectors: a 6×6 tile of 4-tile vectors
  const offsets = tmp + 36 * 16;                               // T4max i32: where each tile starts in `out`
  const work = (offsets + (<usize>T4max << 2) + 63) & ~63;
  const whole = (oH & 3) == 0 && (oW & 3) == 0;
  const inImage = C * H * W;
  for (let n0 = 0; n0 < count; n0 += images) {
    const nb = min(images, count - n0);
    const T = nb * tiles;
    const T4 = roundUp4(T);
    transformInput(g, x + (<usize>(n0 * inImage) << 2), nb, padded, V, T4, tmp);
    // M[pos] = U[pos] · V[pos], one GEMM per tile position.
    const vPos = <usize>posFloats(C, T4) << 2;
    const mPos = <usize>posFloats(O, T4) << 2;
    for (let pos = 0; pos < 36; pos++) {
      gemmRows(0, O, T4, C, u + (<usize>(pos * O * C) << 2), C, false, V + <usize>pos * vPos, T4, false, M + <usize>pos * mPos, T4, false, work);
    }
    // Where each tile starts in `out` (channel 0, its first row), computed once per batch of tiles.
    for (let t = 0; t < T; t++) {
      const img = t / tiles, rem = t % tiles;
      const at = pool
        ? ((n0 + img) * O * (oH >> 1) + (rem / tW) * 2) * (oW >> 1) + (rem % tW) * 2
        : ((n0 + img) * O * oH + (rem / tW) * 4) * oW + (rem % tW) * 4;
      store<i32>(offsets + (<usize>t << 2), at);
    }
    // Y = Aᵀ·M·A per output channel and four tiles, + bias, ReLU, stored tile by tile.
    const zero = f32x4.splat(0);
    const oWBytes = <usize>oW << 2;
    const outPlaneFloats = pool ? (oH >> 1) * (oW >> 1) : oH * oW;
    for (let o = 0; o < O; o++) {
      const bv = bias == 0 ? zero : v128.load32_splat(bias + (<usize>o << 2));
      const outO = out + (<usize>(o * outPlaneFloats) << 2);
      for (let t0 = 0; t0 < T4; t0 += 4) {
        const m = M + (<usize>(o * T4 + t0) << 2);
        // Rows: tmp[i][q] = Σ_p Aᵀ[i][p] · m[p][q].
        for (let q = 0; q < 6; q++) {
          const at = m + <usize>q * mPos;
          outputTransform(
            v128.load(at), v128.load(at + 6 * mPos), v128.load(at + 12 * mPos), v128.load(at + 18 * mPos), v128.load(at + 24 * mPos), v128.load(at + 30 * mPos),
            tmp + <usize>(q * 16), 96,
          );
        }
        // Columns: y[i][j] = Σ_q tmp[i][q] · A[q][j]; then transposed so that each tile's row i is one vector.
        for (let i = 0; i < 4; i++) {
          const row = tmp + <usize>(i * 96);
          outputTransform(v128.load(row), v128.load(row, 16), v128.load(row, 32), v128.load(row, 48), v128.load(row, 64), v128.load(row, 80), row, 16);
        }
        if (pool) {
          // Lane k of the vector at row i, column j is tile k's y[i][j]: the maxima of rows {0, 1} and {2, 3}
          // over columns {0, 1} and {2, 3}, then + bias and ReLU, as four vectors over the tiles.
          const r0 = tmp, r1 = tmp + 96, r2 = tmp + 192, r3 = tmp + 288;
          let p00 = f32x4.max(f32x4.max(v128.load(r0), v128.load(r0, 16)), f32x4.max(v128.load(r1), v128.load(r1, 16)));
          let p01 = f32x4.max(f32x4.max(v128.load(r0, 32), v128.load(r0, 48)), f32x4.max(v128.load(r1, 32), v128.load(r1, 48)));
          let p10 = f32x4.max(f32x4.max(v128.load(r2), v128.load(r2, 16)), f32x4.max(v128.load(r3), v128.load(r3, 16)));
          let p11 = f32x4.max(f32x4.max(v128.load(r2, 32), v128.load(r2, 48)), f32x4.max(v128.load(r3, 32), v128.load(r3, 48)));
          p00 = f32x4.add(p00, bv); p01 = f32x4.add(p01, bv); p10 = f32x4.add(p10, bv); p11 = f32x4.add(p11, bv);
          if (relu) {
            p00 = f32x4.pmax(p00, zero); p01 = f32x4.pmax(p01, zero); p10 = f32x4.pmax(p10, zero); p11 = f32x4.pmax(p11, zero);
          }
          // Tile k's pooled rows: (p00[k], p01[k]) and (p10[k], p11[k]), 8 bytes each.
          const top0 = v128.shuffle<f32>(p00, p01, 0, 4, 1, 5), top1 = v128.shuffle<f32>(p00, p01, 2, 6, 3, 7);
          const bot0 = v128.shuffle<f32>(p10, p11, 0, 4, 1, 5), bot1 = v128.shuffle<f32>(p10, p11, 2, 6, 3, 7);
          const pWBytes = <usize>(oW >> 1) << 2;
          for (let k = 0; k < 4; k++) {
            if (t0 + k >= T) break;
            const dst = outO + (<usize>load<i32>(offsets + (<usize>(t0 + k) << 2)) << 2);
            const top = k < 2 ? top0 : top1, bot = k < 2 ? bot0 : bot1;
            if ((k & 1) == 0) {
              v128.store64_lane(dst, top, 0);
              v128.store64_lane(dst + pWBytes, bot, 0);
            } else {
              v128.store64_lane(dst, top, 1);
              v128.store64_lane(dst + pWBytes, bot, 1);
            }
          }
          continue;
        }
        if (whole && t0 + 4 <= T) {
          // Four tiles inside the output: each tile's row i straight to its place.
          let d0 = outO + (<usize>load<i32>(offsets + (<usize>t0 << 2)) << 2);
          let d1 = outO + (<usize>load<i32>(offsets + (<usize>t0 << 2), 4) << 2);
          let d2 = outO + (<usize>load<i32>(offsets + (<usize>t0 << 2), 8) << 2);
          let d3 = outO + (<usize>load<i32>(offsets + (<usize>t0 << 2), 12) << 2);
          for (let i = 0; i < 4; i++) {
            const row = tmp + <usize>(i * 96);
            let y0 = f32x4.add(v128.load(row), bv), y1 = f32x4.add(v128.load(row, 16), bv);
            let y2 = f32x4.add(v128.load(row, 32), bv), y3 = f32x4.add(v128.load(row, 48), bv);
            if (relu) {
              y0 = f32x4.pmax(y0, zero); y1 = f32x4.pmax(y1, zero); y2 = f32x4.pmax(y2, zero); y3 = f32x4.pmax(y3, zero);
            }
            const s0 = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), s1 = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7);
            const s2 = v128.shuffle<f32>(y2, y3, 0, 4, 1, 5), s3 = v128.shuffle<f32>(y2, y3, 2, 6, 3, 7);
            v128.store(d0, v128.shuffle<f32>(s0, s2, 0, 1, 4, 5));
            v128.store(d1, v128.shuffle<f32>(s0, s2, 2, 3, 6, 7));
            v128.store(d2, v128.shuffle<f32>(s1, s3, 0, 1, 4, 5));
            v128.store(d3, v128.shuffle<f32>(s1, s3, 2, 3, 6, 7));
            d0 += oWBytes; d1 += oWBytes; d2 += oWBytes; d3 += oWBytes;
          }
          continue;
        }
        for (let i = 0; i < 4; i++) {
          const row = tmp + <usize>(i * 96);
          let y0 = f32x4.add(v128.load(row), bv), y1 = f32x4.add(v128.load(row, 16), bv);
          let y2 = f32x4.add(v128.load(row, 32), bv), y3 = f32x4.add(v128.load(row, 48), bv);
          if (relu) {
            y0 = f32x4.pmax(y0, zero); y1 = f32x4.pmax(y1, zero); y2 = f32x4.pmax(y2, zero); y3 = f32x4.pmax(y3, zero);
          }
          // Tile k's row i (4 floats) to tmp's spare area, then to the output, clipped at its edges.
          const lanes = tmp + 24 * 16;
          transposeStore(y0, y1, y2, y3, lanes, 16);
          for (let k = 0; k < 4; k++) {
            const t = t0 + k;
            if (t >= T) break;
            const rem = t % tiles;
            if ((rem / tW) * 4 + i >= oH) continue;
            const ow = (rem % tW) * 4;
            const dst = outO + (<usize>(load<i32>(offsets + (<usize>t << 2)) + i * oW) << 2);
            const v = v128.load(lanes + <usize>(k * 16));
            if (ow + 4 <= oW) {
              v128.store(dst, v);
            } else {
              const left = oW - ow;
              store<f32>(dst, f32x4.extract_lane(v, 0));
              if (left > 1) store<f32>(dst, f32x4.extract_lane(v, 1), 4);
              if (left > 2) store<f32>(dst, f32x4.extract_lane(v, 2), 8);
            }
          }
        }
      }
    }
  }
}

/** A·y for 4 vectors y0..y3 (A = (Aᵀ)ᵀ, 6×4): 6 vectors at out, `step` bytes apart. */
// @ts-ignore: decorator
@inline
function gradientTransform(y0: v128, y1: v128, y2: v128, y3: v128, out: usize, step: usize): void {
  const e = f32x4.add(y0, y2), f = f32x4.add(y1, y3);
  const g = f32x4.add(y0, f32x4.mul(f32x4.splat(4), y2));
  const h = f32x4.add(f32x4.mul(f32x4.splat(2), y1), f32x4.mul(f32x4.splat(8), y3));
  v128.store(out, y0);
  v128.store(out + step, f32x4.add(e, f));
  v128.store(out + 2 * step, f32x4.sub(e, f));
  v128.store(out + 3 * step, f32x4.add(g, h));
  v128.store(out + 4 * step, f32x4.sub(g, h));
  v128.store(out + 5 * step, y3);
}

/** Bytes of scratch conv2dWinograd3x3WeightGrad needs for `images` images per batch of tiles. */
export function winograd3x3WeightGradScratchBytes(geo: usize, images: i32): i32 {
  const g = changetype<Geometry>(geo);
  const C = g.inChannels, O = g.outChannels;
  const tH = (g.outHeight + 3) >> 2, tW = (g.outWidth + 3) >> 2;
  const T4 = roundUp4(images * tH * tW);
  const floats = images * C * paddedHeight(tH) * paddedWidth(tW) + 36 * posFloats(C, T4) + images * O * tH * tW * 16 + 36 * posFloats(O, T4) + 48 * 4;
  return floats * 4 + workBytes(O, C, T4) + 384;
}

/**
 * The weight gradient of conv2dWinograd3x3 in the Winograd domain: with Y = Aᵀ[(G·w·Gᵀ) ⊙ V]A per tile,
 * dU[pos] = Σ_tiles (A·dY·Aᵀ)[pos] ⊙ V[pos] (36 GEMMs [O × T]·[T × C] over the batch's tiles), and
 * dw = Gᵀ·dU·G (winograd3x3WeightsBackward, once the batch is summed). For `count` (>= 1) images at
 * x [count, C, H, W] and gy [count, O, oH, oW]: writes their dU [36, O, C] at `dU`, and Σ gy per
 * channel at `gb` (unless 0), or adds them to what is there with `accumulate`. `images` images per batch of tiles in `scratch` (winograd3x3WeightGradScratchBytes).
 */
export function conv2dWinograd3x3WeightGrad(geo: usize, count: i32, x: usize, gy: usize, dU: usize, gb: usize, accumulate: bool, images: i32, scratch: usize): void {
  const g = changetype<Geometry>(geo);
  const C = g.inChannels, O = g.outChannels, oH = g.outHeight, oW = g.outWidth;
  const tH = (oH + 3) >> 2, tW = (oW + 3) >> 2;
  const tiles = tH * tW;
  const PH = tH * 4, PW = tW * 4;
  const T4max = roundUp4(images * tiles);
  const padded = scratch;
  const V = (padded + (<usize>(images * C * paddedHeight(tH) * paddedWidth(tW)) << 2) + 63) & ~63;
  const gyPadded = V + (<usize>(36 * posFloats(C, T4max)) << 2);
  const Gt = gyPadded + (<usize>(images * O * PH * PW) << 2);
  const tmp = Gt + (<usize>(36 * posFloats(O, T4max)) << 2);   // 4×4 + 6×4 vectors
  const work = (tmp + 48 * 16 + 63) & ~63;
  const inImage = C * g.inHeight * g.inWidth;
  const outPlane = oH * oW;
  for (let n0 = 0; n0 < count; n0 += images) {
    const nb = min(images, count - n0);
    const T = nb * tiles;
    const T4 = roundUp4(T);
    transformInput(g, x + (<usize>(n0 * inImage) << 2), nb, padded, V, T4, tmp);
    // The output gradient's planes, zero past oH and oW, so that every tile reads a full 4×4 block.
    memory.fill(gyPadded, 0, <usize>(nb * O * PH * PW) << 2);
    for (let p = 0; p < nb * O; p++) {
      const src = gy + (<usize>((n0 * O + p) * outPlane) << 2);
      const dst = gyPadded + (<usize>(p * PH * PW) << 2);
      for (let r = 0; r < oH; r++) copyRow(dst + (<usize>(r * PW) << 2), src + (<usize>(r * oW) << 2), oW);
    }
    // Gt[pos][o][t] = (A·dY·Aᵀ)[pos] for tile t's 4×4 block dY in channel o; tiles past T get zeros.
    const gPos = <usize>posFloats(O, T4) << 2;
    const rowBytes = <usize>PW << 2;
    for (let t0 = 0; t0 < T4; t0 += 4) {
      let b0: usize = 0, b1: usize = 0, b2: usize = 0, b3: usize = 0;
      for (let k = 0; k < 4; k++) {
        const t = t0 + k < T ? t0 + k : 0;
        const img = t / tiles, rem = t % tiles;
        const at = gyPadded + (<usize>(img * O * PH * PW + (rem / tW) * 4 * PW + (rem % tW) * 4) << 2);
        if (k == 0) b0 = at; else if (k == 1) b1 = at; else if (k == 2) b2 = at; else b3 = at;
      }
      const valid = T - t0;
      const mask = i32x4(-1, valid > 1 ? -1 : 0, valid > 2 ? -1 : 0, valid > 3 ? -1 : 0);
      for (let o = 0; o < O; o++) {
        const oOff = <usize>(o * PH * PW) << 2;
        // Rows i of the four blocks, transposed so that a vector holds one (i, j) of each tile: tmp[i][j].
        for (let i = 0; i < 4; i++) {
          const off = oOff + <usize>i * rowBytes;
          transposeStore(v128.load(b0 + off), v128.load(b1 + off), v128.load(b2 + off), v128.load(b3 + off), tmp + <usize>(i * 64), 16);
        }
        // Columns: z[p][j] = Σ_i A[p][i]·dY[i][j], into tmp rows 4.. as [p][j].
        const z = tmp + 4 * 64;
        for (let j = 0; j < 4; j++) {
          const col = tmp + <usize>(j * 16);
          gradientTransform(v128.load(col), v128.load(col, 64), v128.load(col, 128), v128.load(col, 192), z + <usize>(j * 16), 64);
        }
        // Rows: Gt[p][q] = Σ_j z[p][j]·A[q][j].
        const dst = Gt + (<usize>(o * T4 + t0) << 2);
        for (let p = 0; p < 6; p++) {
          const row = z + <usize>(p * 64);
          const out = tmp;   // rows 0..3 are no longer needed
          gradientTransform(v128.load(row), v128.load(row, 16), v128.load(row, 32), v128.load(row, 48), out, 16);
          for (let q = 0; q < 6; q++) v128.store(dst + <usize>(p * 6 + q) * gPos, v128.and(v128.load(out + <usize>(q * 16)), mask));
        }
      }
    }
    // dU[pos] = Gt[pos] · V[pos]ᵀ for the first batch of tiles, += for the next.
    const vPos = <usize>posFloats(C, T4) << 2;
    for (let pos = 0; pos < 36; pos++) {
      gemmRows(0, O, C, T4, Gt + <usize>pos * gPos, T4, false, V + <usize>pos * vPos, T4, true, dU + (<usize>(pos * O * C) << 2), C, accumulate || n0 > 0, work);
    }
  }
  if (gb != 0) sumPlanes(gy, count, O, outPlane, accumulate, gb);
}

/** gb[o] = Σ over the `count` images at gy [count, O, plane] of channel o's plane, image by image in order (gb[o] += with `accumulate`). */
export function sumPlanes(gy: usize, count: i32, O: i32, plane: i32, accumulate: bool, gb: usize): void {
  for (let i = 0; i < count; i++) {
    for (let o = 0; o < O; o++) {
      const row = gy + (<usize>((i * O + o) * plane) << 2);
      let acc = f32x4.splat(0);
      let q = 0;
      for (; q + 4 <= plane; q += 4) acc = f32x4.add(acc, v128.load(row + (<usize>q << 2)));
      let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      for (; q < plane; q++) s += load<f32>(row + (<usize>q << 2));
      const at = gb + (<usize>o << 2);
      store<f32>(at, i == 0 && !accumulate ? s : load<f32>(at) + s);
    }
  }
}

/**
 * Region 0 of dU [36, O, C] += regions 1.. (added in their order, as the gather would), over floats [f0, f1)
 * of each position: a streaming pass, so that the gather that follows reads one region. Reading all
 * regions' lines of the 36 positions at once (O·C floats apart, often a multiple of 4 KiB) overflowed the
 * cache sets they map to: with 2 regions the transform back took 2-3 times as long.
 */
function sumRegionsInPlace(dU: usize, regions: i32, regionBytes: usize, posBytes: usize, f0: i32, f1: i32): void {
  for (let pos = 0; pos < 36; pos++) {
    const base = dU + <usize>pos * posBytes;
    let f = f0;
    for (; f + 4 <= f1; f += 4) {
      const at = base + (<usize>f << 2);
      let v = v128.load(at);
      for (let r = 1; r < regions; r++) v = f32x4.add(v, v128.load(at + <usize>r * regionBytes));
      v128.store(at, v);
    }
    for (; f < f1; f++) {
      const at = base + (<usize>f << 2);
      let v = load<f32>(at);
      for (let r = 1; r < regions; r++) v += load<f32>(at + <usize>r * regionBytes);
      store<f32>(at, v);
    }
  }
}

/** Vectors of scratch winograd3x3WeightsBackward needs. */
const WEIGHTS_BACKWARD_VECTORS: i32 = 4 * 36 + 18 + 9;

/** Bytes of scratch winograd3x3WeightsBackward needs. */
export function winograd3x3WeightsBackwardScratchBytes(): i32 {
  return WEIGHTS_BACKWARD_VECTORS * 16;
}

/**
 * dw[o][c] = Gᵀ·dU[·][o][c]·G (3×3) for output channels [o0, o1) into dst [O, C, 3, 3], where dU
 * [36, O, C] is the sum of `regions` blocks, `regionBytes` apart from `dU`, added in their order (the
 * same bits whichever thread wrote which). With more than one region, that sum is first written over
 * region 0's rows [o0, o1) (the other regions are left as they were). Float32, four input channels per vector, sixteen (a cache
 * line of each position, which lie O·C floats apart: often a multiple of 4 KiB, so that a vector at a
 * time would evict the other positions' lines) gathered at a time. `scratch` holds
 * winograd3x3WeightsBackwardScratchBytes() bytes.
 */
export function winograd3x3WeightsBackward(dU: usize, regions: i32, regionBytes: usize, O: i32, C: i32, o0: i32, o1: i32, dst: usize, scratch: usize): void {
  const t = scratch + 4 * 36 * 16, k = t + 18 * 16;
  const posBytes = <usize>(O * C) << 2;
  if (regions > 1) sumRegionsInPlace(dU, regions, regionBytes, posBytes, o0 * C, o1 * C);
  for (let o = o0; o < o1; o++) {
    for (let c1 = 0; c1 < C; c1 += 16) {
      const vectors = min(4, (C - c1 + 3) >> 2);
      // d_v[pos] (36 vectors at scratch + v·36·16): channels c1 + 4v .. + 3 of position pos, from region 0 (the sum).
      for (let pos = 0; pos < 36; pos++) {
        const at = dU + <usize>pos * posBytes + (<usize>(o * C + c1) << 2);
        for (let v = 0; v < vectors; v++) {
          const lanes = min(4, C - c1 - 4 * v);
          const p = at + (<usize>v << 4);
          let part: v128;
          if (lanes == 4) {
            part = v128.load(p);
          } else {
            part = f32x4.splat(0);
            part = f32x4.replace_lane(part, 0, load<f32>(p));
            if (lanes > 1) part = f32x4.replace_lane(part, 1, load<f32>(p, 4));
            if (lanes > 2) part = f32x4.replace_lane(part, 2, load<f32>(p, 8));
          }
          v128.store(scratch + <usize>(v * 36 + pos) * 16, part);
        }
      }
      for (let v = 0; v < vectors; v++) {
        const d = scratch + <usize>(v * 36) * 16;
        const c0 = c1 + 4 * v;
        const lanes = min(4, C - c0);
        // t[i][b] = (dU·G)[i][b], row i at a time; then k[a][b] = (Gᵀ·t)[a][b], column b at a time.
        for (let i = 0; i < 6; i++) {
          const row = d + <usize>(i * 96);
          weightTransformAdjoint(v128.load(row), v128.load(row, 16), v128.load(row, 32), v128.load(row, 48), v128.load(row, 64), v128.load(row, 80), t + <usize>(i * 48), 16);
        }
        for (let b = 0; b < 3; b++) {
          const col = t + (<usize>b << 4);
          weightTransformAdjoint(v128.load(col), v128.load(col, 48), v128.load(col, 96), v128.load(col, 144), v128.load(col, 192), v128.load(col, 240), k + (<usize>b << 4), 48);
        }
        // Channel c0 + j's 3×3 kernel is lane j of the 9 vectors.
        const out = dst + (<usize>((o * C + c0) * 9) << 2);
        for (let tap = 0; tap < 9; tap++) {
          const w = v128.load(k + (<usize>tap << 4));
          const q = out + (<usize>tap << 2);
          store<f32>(q, f32x4.extract_lane(w, 0));
          if (lanes > 1) store<f32>(q, f32x4.extract_lane(w, 1), 36);
          if (lanes > 2) store<f32>(q, f32x4.extract_lane(w, 2), 72);
          if (lanes > 3) store<f32>(q, f32x4.extract_lane(w, 3), 108);
        }
      }
    }
  }
}
