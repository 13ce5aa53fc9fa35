import type { FloatArray, NDArray } from "./dtype.js";

// PyTorch's version counter: one per buffer, shared by every view of it, bumped by each in-place
// write. A Function's saved arrays remember the version they were saved at, and backward refuses
// to run on arrays written since (see Context.saveForBackward and runBackward).

const versions = new WeakMap<FloatArray, number>();

/** How many in-place writes `a`'s buffer has seen (0 for a buffer never written in place). */
export function versionOf(a: NDArray | FloatArray): number {
  return versions.get(bufferOf(a)) ?? 0;
}

/** Records one in-place write into `a`'s buffer (an optimizer step, a copy into a parameter). */
export function bumpVersion(a: NDArray | FloatArray): void {
  const data = bufferOf(a);
  versions.set(data, (versions.get(data) ?? 0) + 1);
}

function bufferOf(a: NDArray | FloatArray): FloatArray {
  return a instanceof Float32Array || a instanceof Float64Array ? a : a.data;
}
