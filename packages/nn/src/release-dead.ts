import { kernels, Tensor, tracer, type Context } from "@pico/core";

/**
 * The context of the recorded call that created `t`'s array, following in-place writes and views back
 * to it (AddRelu with `inplace` returns a tensor over its input's array: the creator is that input's);
 * null when the array is a leaf's or no recorded call created it.
 */
export function arrayCreator(t: Tensor): Context | null {
  const storage = kernels.storageOf(t.data.data);
  let current = t;
  for (;;) {
    const call = current.creator;
    if (call === null || call.ctx === null || call.inputs === null) return null;
    const same = call.inputs.find((input): input is Tensor => input instanceof Tensor && kernels.storageOf(input.data.data) === storage);
    if (same === undefined) return call.ctx;
    current = same;
  }
}

/**
 * Hands `dead`'s array back to the buffer pool, for a caller that knows no tensor, view or saved state
 * outside the calls it made can reach it: at once under noGrad; in grad mode when backward releases the
 * call that created the array (tracer.keepPrivate), after every call that reads it. Leaves the array to
 * the garbage collector when it is also one of `live`'s, or when no recorded call created it.
 */
export function releaseDead(dead: Tensor, ...live: Tensor[]): void {
  const array = dead.data.data;
  const storage = kernels.storageOf(array);
  if (live.some((t) => kernels.storageOf(t.data.data) === storage)) return;
  if (tracer.blind) {
    tracer.recycle(array);
    return;
  }
  const creator = arrayCreator(dead);
  if (creator !== null) tracer.keepPrivate(creator, array);
}
