import { type FloatArray, type Tensor, kernels } from "@pico/core";
import type { GradientSum } from "./gradient-sum.js";
import { CALLS_END, CHUNKED, CHUNK_TOTAL, CHUNKS, CHUNKS_DONE, CHUNK_CLAIM, type ControlLayout, DONE, EXITED, GRADIENT_PRESENT, MAX_CHUNKS, STEP_ABORT, SUMS_DONE } from "./protocol.js";
import { shardBounds } from "./shards.js";
import { now } from "./clock.js";
import type { Spin } from "./wait.js";

// A step's batch is cut into chunks of contiguous rows. Static (the default, and always when a BatchNorm
// layer normalises with batch statistics: every replica must take part in each of its statistics
// exchanges with exactly one part of the batch, at the same point of the forward), there is one chunk per
// replica and replica r runs chunk r. Chunked (DataParallelOptions.chunkRows), there are more chunks than
// replicas: the calling thread runs chunk 0, and every replica claims the next chunk (an atomic counter)
// whenever it is free, so a replica held up (a garbage collection, another thread on its core) takes
// fewer. Either way each chunk's gradient goes to its own block and the blocks are added in chunk order
// (gradient-sum.ts): the bits depend on the chunks' bounds, never on who ran which.

/**
 * Where each chunk starts, and where the last ends: one chunk per replica (`chunkRows` null), or chunks
 * of at most `chunkRows` rows (at most MAX_CHUNKS, and no more than `maxChunks`), as equal as possible.
 */
export function chunkBounds(rows: number, replicas: number, chunkRows: number | null, maxChunks: number): number[] {
  if (chunkRows === null) return shardBounds(rows, replicas);
  return shardBounds(rows, Math.max(1, Math.min(MAX_CHUNKS, maxChunks, Math.ceil(rows / chunkRows))));
}

/**
 * The chunk `replica` runs next after `previous` (-1 before its first), or -1: none left, or the step
 * was aborted. The calling thread runs chunk 0 without claiming it.
 */
export function nextChunk(control: Int32Array, replica: number, previous: number, seq: number): number {
  const chunks = control[CHUNKS]!;
  if (control[CHUNKED] === 0) return previous === -1 && replica < chunks ? replica : -1;
  if (previous === -1 && replica === 0) return 0;
  if (Atomics.load(control, STEP_ABORT) === seq) return -1;
  const k = Atomics.add(control, CHUNK_CLAIM, 1);
  return k < chunks ? k : -1;
}

/**
 * Moves the gradients backward left for chunk `k` into its block (the `.grad`s are null after), sets the
 * chunk's GRADIENT_PRESENT flags, and counts the chunk done: its loss and output must be written first.
 * When `own` is given (chunk `k` is replica `replica`'s last of the step: no backward runs before its
 * sum), the replica's own slice stays out of the block and `own` keeps the gradients it sums it from
 * (recycleGradients gives them back once summed). The others go back to core's buffer pool at once:
 * the next backward's gradients take their memory instead of new arrays (146 KB a step on each thread
 * on the reference network, whose growth started collections).
 */
export function finishChunk(control: Int32Array, layout: ControlLayout, sum: GradientSum, k: number, parameters: readonly Tensor[], replica: number, own: (FloatArray | null)[] | null): void {
  const at = layout.chunk(k) + GRADIENT_PRESENT;
  for (let i = 0; i < parameters.length; i++) {
    const p = parameters[i]!;
    const grad = p.grad;
    control[at + i] = grad === null ? 0 : 1;
    const values = grad === null ? null : kernels.packed(grad.data).data;
    if (values !== null) sum.publish(k, i, values, own === null ? -1 : replica);
    p.grad = null;
    if (own !== null) own[i] = values;
    // Nothing else references a .grad that backward left: an array of the engine's own, handed over, or a
    // copy (core's autograd), which a user cannot keep during backward (no hooks).
    else if (values !== null) kernels.recycle(values);
  }
  Atomics.add(control, CHUNKS_DONE, 1);
  Atomics.notify(control, CHUNKS_DONE);
}

/** Gives the gradients finishChunk left in `own` back to core's buffer pool (nothing reads them once summed) and clears `own`. */
export function recycleGradients(own: (FloatArray | null)[]): void {
  for (let i = 0; i < own.length; i++) {
    const values = own[i]!;
    if (values !== null) kernels.recycle(values);
    own[i] = null;
  }
}

/** A replica failed in the step of command count `seq`: nobody claims or waits for chunks any more. */
export function abortStep(control: Int32Array, seq: number): void {
  Atomics.store(control, STEP_ABORT, seq);
  Atomics.notify(control, CHUNKS_DONE);
}

/**
 * Waits until every chunk of the step of command count `seq` is done (true), or the step was aborted, a
 * worker's thread exited, or `deadline` (a clock.ts time) passed (false: nobody's sum is needed). Polls as `spin` says before sleeping.
 */
export function awaitChunks(control: Int32Array, layout: ControlLayout, seq: number, spin: Spin, deadline = Infinity): boolean {
  const chunks = control[CHUNKS]!;
  spin.begin();
  for (let i = 0; ; i++) {
    const done = Atomics.load(control, CHUNKS_DONE);
    if (done === chunks) return true;
    if (Atomics.load(control, STEP_ABORT) === seq) return false;
    const sleep = spin.idle();
    if (sleep || (i & 1023) === 1023) {
      for (let r = 1; r < layout.replicas; r++) if (Atomics.load(control, layout.worker(r) + DONE) === EXITED) return false;
    }
    if (sleep) {
      const left = deadline - now();
      if (left <= 0) return false;
      Atomics.wait(control, CHUNKS_DONE, done, Math.min(left, 1));
    }
  }
}

/** Added to SUMS_DONE by a thread whose sum failed: the count never reaches the replicas' number in that step (at most MAX_REPLICAS). */
const SUM_FAILED = 1 << 16;

/**
 * This thread's slices of the gradients are summed, or (`failed`) its sum threw: then SUMS_DONE never
 * reaches the replicas' number, and awaitSums returns false on every thread, so that nobody updates a
 * slice whose sum never happened (the sum's block still holds an earlier step's gradient there).
 */
export function markSummed(control: Int32Array, failed = false): void {
  Atomics.add(control, SUMS_DONE, failed ? SUM_FAILED : 1);
  Atomics.notify(control, SUMS_DONE);
}

/** Whether a thread's sum failed in the running step (markSummed with `failed`). */
export function sumFailed(control: Int32Array): boolean {
  return Atomics.load(control, SUMS_DONE) >= SUM_FAILED;
}

/**
 * Waits until every thread has summed its slices of the gradients in the trainStep of command count
 * `seq` (true: the update's chunks may be claimed), or a thread's sum failed, the calling thread has
 * ended the step's calls without recording any (nothing to claim: it records only once its own sum is
 * done, and may not have summed at all), a worker's thread exited or `deadline` (a clock.ts time)
 * passed (false).
 */
export function awaitSums(control: Int32Array, layout: ControlLayout, seq: number, spin: Spin, deadline = Infinity): boolean {
  const replicas = layout.replicas;
  spin.begin();
  for (let i = 0; ; i++) {
    const done = Atomics.load(control, SUMS_DONE);
    if (done === replicas) return true;
    if (done >= SUM_FAILED) return false;
    if (Atomics.load(control, CALLS_END) === seq && Atomics.load(control, CHUNK_TOTAL) === 0) return false;
    const sleep = spin.idle();
    if (sleep || (i & 1023) === 1023) {
      for (let r = 1; r < replicas; r++) if (Atomics.load(control, layout.worker(r) + DONE) === EXITED) return false;
    }
    if (sleep) {
      const left = deadline - now();
      if (left <= 0) return false;
      Atomics.wait(control, SUMS_DONE, done, Math.min(left, 1));
    }
  }
}
