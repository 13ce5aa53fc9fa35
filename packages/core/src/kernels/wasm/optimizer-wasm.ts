import { runBlockwise } from "./blockwise.js";
import { localInstance } from "./engine.js";

// The loader of assembly/optimizer.ts: an optimizer's update of one float32 parameter on the calling
// thread's instance, block by block through regions small enough that a block stays in the cache from its
// copy in to its copy out (the parameter, its gradient and its state each go through main memory once).
// It does not split across the threads: a version that copied a parameter's operands into the shared
// memory job by job (staged) while the workers computed measured slower than this on 2 threads (Adam over
// 30,720 floats 0.105 -> 0.132 ms, 180,000 floats 0.64 -> 0.67 ms; SGD with momentum 0.057 -> 0.075 ms):
// the calling thread's copies, serial, are most of the work, and whole-array copies leave the cache.
// Two later versions (0fa4e47: fixed ranges staged as the elementwise kernels; 6edfa3d: 2,048-float chunks
// handed out from the parameter's end only as the worker came for them, the calling thread computing from
// the front in its own memory) were as fast alone when the worker came (30,720 floats 102 -> 72-79 us) and
// slower when other processes held its core (113-121 us), but gained nothing in the reference network's
// 2-thread training step, where the operands arrive cold and the copies into the shared memory cost
// 0.3-1 ns a float: in-process alternation, 3 processes of 10 blocks of 60 steps, optimizer.step
// 136.8 / 215.0 / 202.9 us on the calling thread against 137.4 / 214.1 / 198.5 us shared, the step the
// same to 0.5%, with the worker taking 9 of 10 chunks handed out.
// On one thread the kernel itself, not the copies, is most of a step: Adam over the reference network's
// 3,200 + 30,720 + 1,200 floats takes ~119 us, of which its f64 divides and square roots (needed for the
// TypeScript loop's bits) ~97 us, the seven copies ~19 us and the JavaScript around them ~1 us.

/** Floats of each operand per block: Adam with amsgrad copies five operands, 160 KB in all; whole vectors of 4. */
const BLOCKS = { floats: 1 << 13, align: 4 };

const WITH_DECAY = 1;
const FIRST = 2;
const NESTEROV = 4;

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
  return runBlockwise([p, buf, g], [p, buf], BLOCKS, [lr, momentum, keep, decay, sign, flags], (at, count, hyper) =>
    e.sgdStep(hyper, at[0]!, at[2]!, at[1]!, 0, count),
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
  return runBlockwise([p, m, v, vmax, g], [p, m, v, vmax], BLOCKS, hyper, (at, count, h) =>
    e.adamStep(h, at[0]!, at[4]!, at[1]!, at[2]!, at[3]!, 0, count),
  );
}
