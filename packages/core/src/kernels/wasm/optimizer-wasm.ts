import { heapOf, Layout, localInstance } from "./engine.js";

// The loader of assembly/optimizer.ts: an optimizer's update of one float32 parameter on the calling
// thread's instance, block by block through regions small enough that a block stays in the cache from its
// copy in to its copy out (the parameter, its gradient and its state each go through main memory once).
// It does not split across the threads: a version that copied a parameter's operands into the shared
// memory job by job (staged) while the workers computed measured slower than this on 2 threads (Adam over
// 30,720 floats 0.105 -> 0.132 ms, 180,000 floats 0.64 -> 0.67 ms; SGD with momentum 0.057 -> 0.075 ms):
// the calling thread's copies, serial, are most of the work, and whole-array copies leave the cache.

/** Floats of each operand per block: Adam with amsgrad copies five operands, 160 KB in all. */
const BLOCK_FLOATS = 1 << 13;
/** f64s of hyperparameters at the start of the layout (assembly/optimizer.ts's constants). */
const HYPER_DOUBLES = 16;

const WITH_DECAY = 1;
const FIRST = 2;
const NESTEROV = 4;

/**
 * Copies `ins` (arrays of equal length) into regions of the calling thread's memory block by block, runs
 * `step(hyper, addresses, count)` on each (count rounded up to 4) and copies the first `outs` operands
 * back; `hyper` is written to the f64s at the layout's start. False where WebAssembly is missing.
 */
function blocks(ins: (Float32Array | null)[], outs: number, hyper: number[], step: (hyperAt: number, at: number[], count: number) => void): boolean {
  const t = localInstance();
  if (t === null) return false;
  const size = ins[0]!.length;
  const block = Math.min(BLOCK_FLOATS, Math.ceil(size / 4) * 4);
  const mem = new Layout(t.exports.heapBase());
  const hyperAt = mem.take(HYPER_DOUBLES * 2);
  // Pushed, not mapped: a map's result changes elements kind once the caller is optimized (a deoptimization).
  const at: number[] = [];
  for (const a of ins) at.push(a === null ? 0 : mem.take(block));
  const heap = heapOf(t, mem.end);
  if (heap === null) return false;
  new Float64Array(heap.buffer, hyperAt, HYPER_DOUBLES).set(hyper);
  for (let i0 = 0; i0 < size; i0 += block) {
    const n = Math.min(block, size - i0);
    ins.forEach((a, k) => {
      if (a !== null) heap.set(a.subarray(i0, i0 + n), at[k]! >> 2);
    });
    step(hyperAt, at, Math.ceil(n / 4) * 4);
    for (let k = 0; k < outs; k++) {
      const a = ins[k];
      if (a !== null && a !== undefined) a.set(heap.subarray(at[k]! >> 2, (at[k]! >> 2) + n), i0);
    }
  }
  return true;
}

/**
 * SGD's step on float32 p (with its momentum buffer `buf`, or null), bit for bit the TypeScript loop's
 * (src/kernels/optimizer.ts): see there for the arguments. False where WebAssembly is missing (nothing written).
 */
export function sgdUpdateWasm(
  p: Float32Array, g: Float32Array, buf: Float32Array | null, first: boolean,
  lr: number, momentum: number, keep: number, decay: number, sign: number, nesterov: boolean,
): boolean {
  const flags = (decay !== 0 ? WITH_DECAY : 0) | (first ? FIRST : 0) | (nesterov ? NESTEROV : 0);
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  return blocks([p, buf, g], buf === null ? 1 : 2, [lr, momentum, keep, decay, sign, flags], (hyper, [pAt, bufAt, gAt], count) =>
    e.sgdStep(hyper, pAt!, gAt!, bufAt!, 0, count),
  );
}

/**
 * Adam's (AdamW's) step on float32 p with its moments m, v (and their running maximum vmax with amsgrad,
 * else null), bit for bit the TypeScript loop's (src/kernels/optimizer.ts). False where WebAssembly is
 * missing (nothing written).
 */
export function adamUpdateWasm(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, vmax: Float32Array | null,
  shrink: number, l2: number, sign: number, keep1: number, beta2: number, keep2: number, stepSize: number, inverseCorrection2: number, eps: number,
): boolean {
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  const hyper = [shrink, l2, sign, keep1, beta2, keep2, stepSize, inverseCorrection2, eps, l2 !== 0 ? WITH_DECAY : 0];
  return blocks([p, m, v, vmax, g], vmax === null ? 3 : 4, hyper, (h, [pAt, mAt, vAt, vmaxAt, gAt], count) =>
    e.adamStep(h, pAt!, gAt!, mAt!, vAt!, vmaxAt!, 0, count),
  );
}
