import type { FloatArray } from "../dtype.js";
import { kernelFamily } from "./registry.js";
import { batchNormBackwardWasm, batchNormForwardWasm } from "./wasm/batch-norm-wasm.js";
import { elementwiseWasmThreads } from "./wasm/elementwise-wasm.js";
import { wasmAvailable } from "./wasm/engine.js";

// Batch normalisation over axis 1 of a packed [n, c, s] array (s: the product of the trailing axes),
// optionally with the ReLU that follows it fused in: the plain loops every fast kernel is tested against
// ("reference", float64 sums) and WebAssembly SIMD ("wasm", float32 only, threaded by channel).
//
// Tables shared by forward and backward, one entry per channel:
// - stats, [mean c | var c | invStd c]: the batch's mean and biased variance (training) or the running
//   ones (evaluation, given), and 1/sqrt(var + eps);
// - affine, [mean c | scale c | shift c]: y = (x − mean)·scale + shift, scale = invStd·γ, shift = β, as the
//   forward computed them, so that the backward recomputes a fused ReLU's mask from x as the forward did.

export interface BatchNormKernelArgs {
  n: number;
  c: number;
  s: number;
  /** Normalise with the batch's statistics (written to stats) rather than the given running ones. */
  train: boolean;
  /** y = relu(bn(x)); the backward then passes the gradient except where y <= 0 (as PyTorch's relu). */
  relu: boolean;
  gamma: FloatArray | null;
  beta: FloatArray | null;
  eps: number;
  /**
   * With `train`: the exchange through which this array, one shard of a batch split across replicas,
   * normalises with the whole batch's statistics and takes the whole batch's gradient sums into its input
   * gradient (synchronized BatchNorm). None: the array is the whole batch.
   */
  sync?: BatchNormSync | null;
  /**
   * The backward's input gradient goes to the convolution's backward alone (see kernels.handOff): the
   * WebAssembly kernel leaves it in the module for that convolution to read. Default false.
   */
  handOffGradInput?: boolean;
  /**
   * A residual block's end: this array (packed, x's shape) is added after the normalisation and before the
   * ReLU (`relu` must be set), y = relu(bn(x) + residual), each rounded as the two operators' outputs would
   * be. The backward then takes the output (BatchNormResidualGradient). Default none.
   */
  residual?: FloatArray | null;
}

/**
 * What the backward of a forward with a residual takes besides g: the mask comes from the output, and gm is
 * the residual's gradient. `A`: the arrays' type (Float32Array for the WebAssembly kernel).
 */
export interface BatchNormResidualGradient<A extends FloatArray = FloatArray> {
  /** The forward's output relu(bn(x) + residual): gm = g where y > 0 (or NaN, as PyTorch's threshold_backward), else 0. */
  y: A;
  /** Receives gm, the residual's gradient (unless null). */
  grad: A | null;
}

/**
 * How the shards of one batch, normalised on several replicas at once, share their statistics (as
 * PyTorch's SyncBatchNorm): each replica's kernel hands over its shard's per-channel figures and gets the
 * whole batch's back. Every replica's kernel calls it the same number of times, in the same order.
 */
export interface BatchNormSync {
  /**
   * Replaces this shard's per-channel mean (stats[0, c)) and biased variance (stats[c, 2c)), over `count`
   * values per channel, with the whole batch's; returns the whole batch's count per channel.
   */
  statistics(stats: Float64Array, c: number, count: number): number;
  /**
   * Writes into `total` the whole batch's [Σgm c | Σgm·(x − mean) c] from this shard's `sums` (over `count`
   * values per channel); returns the whole batch's count per channel.
   */
  gradientSums(sums: Float64Array, c: number, count: number, total: Float64Array): number;
}

export interface BatchNormKernel {
  /** Writes y (every element; y may be x), stats and affine; false if it cannot run these operands (nothing written). */
  forward(x: FloatArray, y: FloatArray, args: BatchNormKernelArgs, stats: Float64Array, affine: Float64Array): boolean;
  /**
   * Writes sums ([Σgm c | Σgm·(x − mean) c], gm = g masked by the fused ReLU; this shard's under a sync)
   * and, unless dx is null, the input gradient (from the whole batch's sums under a sync); with `residual`
   * (the forward's args had one) gm is masked by residual.y and written to residual.grad. With `g2` the
   * gradient is g + g2 (each element rounded as g's array stores it, as the autograd engine's sum), added
   * within the pass: a gradient that arrived in two parts. False if it cannot run these operands (nothing written).
   */
  backward(
    x: FloatArray, g: FloatArray, dx: FloatArray | null, args: BatchNormKernelArgs, stats: Float64Array, affine: Float64Array, sums: Float64Array,
    residual?: BatchNormResidualGradient | null, g2?: FloatArray | null,
  ): boolean;
}

/** Rounds as the output array stores, so that a recomputed ReLU mask is the stored output's. */
const rounding = (a: FloatArray): ((v: number) => number) => (a instanceof Float32Array ? Math.fround : (v) => v);

export const batchNormReference: BatchNormKernel = {
  forward(x, y, args, stats, affine) {
    const { n, c, s, train, relu, gamma, beta, eps } = args;
    const m = n * s;
    if (train) {
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        for (let b = 0; b < n; b++) {
          const base = (b * c + ch) * s;
          for (let i = 0; i < s; i++) sum += x[base + i]!;
        }
        const mu = sum / m;
        let sq = 0;
        for (let b = 0; b < n; b++) {
          const base = (b * c + ch) * s;
          for (let i = 0; i < s; i++) {
            const d = x[base + i]! - mu;
            sq += d * d;
          }
        }
        stats[ch] = mu;
        stats[c + ch] = sq / m;
      }
      args.sync?.statistics(stats, c, m);
    }
    for (let ch = 0; ch < c; ch++) {
      const invStd = 1 / Math.sqrt(stats[c + ch]! + eps);
      stats[2 * c + ch] = invStd;
      affine[ch] = stats[ch]!;
      affine[c + ch] = invStd * (gamma === null ? 1 : gamma[ch]!);
      affine[2 * c + ch] = beta === null ? 0 : beta[ch]!;
    }
    const residual = args.residual ?? null;
    const round = rounding(y);
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < c; ch++) {
        const [mu, scale, shift] = [affine[ch]!, affine[c + ch]!, affine[2 * c + ch]!];
        const base = (b * c + ch) * s;
        if (residual !== null) {
          // The normalised value rounded as BatchNorm's output is, then the add as AddRelu's.
          for (let i = 0; i < s; i++) {
            const v = round(round((x[base + i]! - mu) * scale + shift) + residual[base + i]!);
            y[base + i] = v < 0 ? 0 : v;
          }
        } else if (relu) {
          for (let i = 0; i < s; i++) {
            const v = (x[base + i]! - mu) * scale + shift;
            y[base + i] = v < 0 ? 0 : v;
          }
        } else {
          for (let i = 0; i < s; i++) y[base + i] = (x[base + i]! - mu) * scale + shift;
        }
      }
    }
    return true;
  },

  backward(x, g, dx, args, stats, affine, sums, residual = null, g2 = null) {
    const { n, c, s, train, relu } = args;
    const round = rounding(x);
    const y = residual?.y ?? null;
    const roundG = rounding(g);
    const gAt = g2 === null ? (i: number): number => g[i]! : (i: number): number => roundG(g[i]! + g2[i]!);
    // gm: g except where the fused ReLU's output was <= 0 (a NaN output passes g, as PyTorch's threshold_backward),
    // the output recomputed from x, or read where a residual was added.
    const gm = (i: number, mu: number, scale: number, shift: number): number =>
      y !== null ? (y[i]! <= 0 ? 0 : gAt(i)) : relu && round((x[i]! - mu) * scale + shift) <= 0 ? 0 : gAt(i);
    const gradResidual = residual?.grad ?? null;
    if (gradResidual !== null) for (let i = 0; i < n * c * s; i++) gradResidual[i] = gm(i, 0, 0, 0);
    for (let ch = 0; ch < c; ch++) {
      const [mu, scale, shift] = [affine[ch]!, affine[c + ch]!, affine[2 * c + ch]!];
      let sg = 0;
      let sgx = 0;
      for (let b = 0; b < n; b++) {
        const base = (b * c + ch) * s;
        for (let i = 0; i < s; i++) {
          const gi = gm(base + i, mu, scale, shift);
          sg += gi;
          sgx += gi * (x[base + i]! - mu);
        }
      }
      sums[ch] = sg;
      sums[c + ch] = sgx;
    }
    if (dx === null) return true;
    // The whole batch's sums and count under a sync, this array's otherwise.
    let [total, m] = [sums, n * s];
    if (train && args.sync) {
      total = new Float64Array(2 * c);
      m = args.sync.gradientSums(sums, c, m, total);
    }
    for (let ch = 0; ch < c; ch++) {
      const [mu, scale, shift] = [affine[ch]!, affine[c + ch]!, affine[2 * c + ch]!];
      const invStd = stats[2 * c + ch]!;
      // dx = scale·(gm − mean(gm) − x̂·mean(gm·x̂)), x̂ = (x − μ)·invStd; in evaluation the statistics are constants: dx = scale·gm.
      const meanG = train ? total[ch]! / m : 0;
      const k = train ? (total[c + ch]! * invStd * invStd) / m : 0;
      for (let b = 0; b < n; b++) {
        const base = (b * c + ch) * s;
        // Evaluation leaves x out (a NaN input must not reach its own gradient, as in PyTorch).
        if (!train) for (let i = 0; i < s; i++) dx[base + i] = scale * gm(base + i, mu, scale, shift);
        else for (let i = 0; i < s; i++) dx[base + i] = scale * (gm(base + i, mu, scale, shift) - meanG - (x[base + i]! - mu) * k);
      }
    }
    return true;
  },
};

const f32 = (a: FloatArray | null): a is Float32Array | null => a === null || a instanceof Float32Array;

/**
 * Float32 only; its arithmetic is float32 (sums per 1024 elements in float32 lanes, then float64), so it
 * agrees with the reference to float32 rounding of the normalised values: |Δy| <= 1e-5·(1 + |y|) and
 * |Δdx| <= 1e-5·max|dx| in the tests. A fused ReLU's mask can differ only where bn(x) rounds to ±0.
 */
export const batchNormWasm: BatchNormKernel = {
  forward(x, y, args, stats, affine) {
    const { gamma, beta } = args;
    if (!(x instanceof Float32Array) || !(y instanceof Float32Array) || !f32(gamma) || !f32(beta)) return false;
    const residual = args.residual ?? null;
    if (!(residual === null || residual instanceof Float32Array)) return false;
    const options = { train: args.train, relu: args.relu, gamma, beta, eps: args.eps, sync: args.sync ?? null, residual };
    return batchNormForwardWasm(x, y, args.n, args.c, args.s, options, stats, affine);
  },
  backward(x, g, dx, args, stats, affine, sums, residual = null, g2 = null) {
    if (!(x instanceof Float32Array) || !(g instanceof Float32Array) || !(dx === null || dx instanceof Float32Array)) return false;
    if (!(g2 === null || (g2 instanceof Float32Array && residual === null))) return false;
    let r: BatchNormResidualGradient<Float32Array> | null = null;
    if (residual !== null) {
      const { y, grad } = residual;
      if (!(y instanceof Float32Array) || !(grad === null || grad instanceof Float32Array)) return false;
      r = { y, grad };
    }
    return batchNormBackwardWasm(x, g, dx, args.n, args.c, args.s, args.train, args.relu, stats, affine, sums, args.sync ?? null, args.handOffGradInput === true, r, g2);
  },
};

/** The "batchNorm" kernel family: which implementation runs is the registry's choice (useKernels, kernelInfo). */
export const batchNormKernels = kernelFamily<BatchNormKernel>("batchNorm")
  .register("reference", batchNormReference)
  .register("wasm", batchNormWasm, { available: wasmAvailable, threads: elementwiseWasmThreads });
