import { alignUp, heapOf, heapView, localInstance } from "./engine.js";

/** How a call goes through the calling thread's memory: floats of each operand per block, and the multiple its counts are rounded up to. */
export interface Blocks {
  floats: number;
  /** The kernel's vector width when it runs whole vectors only (the regions are padded to it), else 1. */
  align: number;
}

/** The memory's buffer constantsView is over: made again only when the memory grows. */
let constantsOf: ArrayBufferLike | null = null;
let constantsView: Float64Array | null = null;
/** The regions' byte addresses handed to the kernel: one array per count of operands (its length, which kernels read), reused by every call. */
const addresses: number[][] = [];

/**
 * Runs a kernel over `operands` (float32 arrays of equal length, null for one the call lacks) on the
 * calling thread's instance, block by block through a region per operand small enough that a block stays
 * in the cache from its copy in to its copy out (main memory sees each operand once): copies each block of
 * the operands into their regions, calls `kernel(at, count, constantsAt)` with the regions' byte addresses
 * (0 for a null operand) and the block's length rounded up to `blocks.align`, then copies region k into
 * `results[k]` wherever that is given. `constants` (f64s) are written once, before the regions, at
 * `constantsAt`. False where WebAssembly is missing or the memory cannot grow (nothing written).
 */
export function runBlockwise(
  operands: readonly (Float32Array | null)[],
  results: readonly (Float32Array | null)[],
  blocks: Blocks,
  constants: readonly number[],
  kernel: (at: number[], count: number, constantsAt: number) => void,
): boolean {
  const t = localInstance();
  if (t === null) return false;
  const align = blocks.align;
  const size = operands[0]!.length;
  const block = Math.min(blocks.floats, Math.ceil(size / align) * align);
  let end = alignUp(t.exports.heapBase());
  const constantsAt = constants.length === 0 ? 0 : end;
  end = alignUp(end + constants.length * 8);
  const at = (addresses[operands.length] ??= new Array<number>(operands.length).fill(0));
  for (let k = 0; k < operands.length; k++) {
    at[k] = operands[k] === null ? 0 : end;
    if (operands[k] !== null) end = alignUp(end + block * 4);
  }
  const heap = heapOf(t, end);
  if (heap === null) return false;
  if (constantsOf !== heap.buffer) {
    constantsOf = heap.buffer;
    constantsView = new Float64Array(heap.buffer);
  }
  for (let k = 0, f = constantsAt >> 3; k < constants.length; k++, f++) constantsView![f] = constants[k]!;
  for (let i0 = 0; i0 < size; i0 += block) {
    const n = Math.min(block, size - i0);
    // A whole operand (every call of a parameter or activation up to a block) is copied without a subarray.
    const whole = n === size;
    for (let k = 0; k < operands.length; k++) {
      const a = operands[k];
      if (a !== null && a !== undefined) heap.set(whole ? a : a.subarray(i0, i0 + n), at[k]! >> 2);
    }
    kernel(at, Math.ceil(n / align) * align, constantsAt);
    for (let k = 0; k < results.length; k++) {
      const r = results[k];
      if (r !== null && r !== undefined) r.set(heapView(t, heap, at[k]!, n), i0);
    }
  }
  return true;
}
