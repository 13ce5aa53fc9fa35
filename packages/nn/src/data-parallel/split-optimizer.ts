import { type FloatArray, kernels } from "@pico/core";
import {
  CALL_ADAM,
  CALL_ARRAYS,
  CALL_COUNT,
  CALL_DTYPE,
  CALL_KIND,
  CALL_LENGTH,
  CALL_SGD,
  type ControlLayout,
  FLOAT32,
  FLOAT64,
  MAX_CALLS,
  NO_ARRAY,
  bytesOf,
  viewOf,
} from "./protocol.js";
import { shardBounds } from "./shards.js";

// DataParallel.step's optimizer step on every replica at once. The optimizers of @pico/optim update each
// parameter through core's "optimizer" kernel family, whose calls are elementwise: element k of the
// parameter, its gradient and its state depend on element k alone. While the calling thread runs the
// user's optimizer.step(), a kernel installed over the family (KernelFamily.override) records every call
// whose arrays all live in shared memory instead of running it; when the step returns, one OPTIMIZE
// command carries the recorded calls, and every thread, the calling one included, runs each of them on
// its own contiguous slice of the arrays. Same arithmetic per element, so the same bits as the optimizer
// on one thread, for one signal and one wait per step (each wait is a chance to meet a thread taken off
// its core: a signal per call made steps several times slower beside another busy process). A call
// whose arrays are not all in shared memory (state created by this very step, a strided parameter's
// copy) runs on the calling thread at once, after the recorded calls when it shares memory with any of
// theirs (an earlier call on the same parameter must update it first).

/**
 * Below this many elements a call runs on the calling thread at once: its slices would save less than
 * they cost to describe and start (a bias). Adam takes ~4 ns an element on one thread here.
 */
const SPLIT_MIN_ELEMENTS = 2048;

/** The shared buffers an array of a kernel call may live in, by their index (STATE_BUFFER, GRADIENT_BUFFER, OPTIMIZER_BUFFER). */
export type CallBuffers = readonly SharedArrayBuffer[];

/** The calling thread's side: records an optimizer step's splittable kernel calls into the control block. */
export class OptimizerSplit {
  private count = 0;
  private readonly scalars: Float64Array;
  /** The state arrays (momentum buffers, moment estimates) the recorder was handed since the last clear: the state that may move into shared memory. */
  readonly stateArrays = new Set<FloatArray>();
  /** The byte ranges of the arrays of the calls recorded since the last take: a call that runs at once over any of them runs them first. */
  private readonly recorded: { buffer: ArrayBufferLike; start: number; end: number }[] = [];

  constructor(
    private readonly control: Int32Array,
    private readonly layout: ControlLayout,
    private readonly buffers: CallBuffers,
  ) {
    this.scalars = new Float64Array(control.buffer);
  }

  /**
   * The kernel to install over the optimizer family for one step: it records the calls it can split
   * and hands the others to `base`, the kernel that ran before; `flush` must run the recorded calls
   * (it is called when MAX_CALLS are waiting, and by the caller after the step).
   */
  recorder(base: kernels.OptimizerKernel, flush: () => void): kernels.OptimizerKernel {
    return {
      sgd: (p, g, buf, first, h) => {
        if (buf !== null) this.stateArrays.add(buf);
        const arrays = [p, g, buf];
        if (!this.record(CALL_SGD, p, arrays, [h.lr, h.momentum, h.dampening, h.nesterov ? 1 : 0, h.weightDecay, h.maximize ? 1 : 0, first ? 1 : 0], flush)) {
          if (this.overlapsRecorded(arrays)) flush();
          base.sgd(p, g, buf, first, h);
        }
      },
      adam: (p, g, m, v, vmax, step, h, decoupled) => {
        this.stateArrays.add(m).add(v);
        if (vmax !== null) this.stateArrays.add(vmax);
        const scalars = [h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, h.amsgrad ? 1 : 0, h.maximize ? 1 : 0, step, decoupled ? 1 : 0];
        const arrays = [p, g, m, v, vmax];
        if (!this.record(CALL_ADAM, p, arrays, scalars, flush)) {
          if (this.overlapsRecorded(arrays)) flush();
          base.adam(p, g, m, v, vmax, step, h, decoupled);
        }
      },
    };
  }

  /** The calls recorded since the last take (written to CALL_COUNT for the OPTIMIZE command that carries them); starts a new batch. */
  take(): number {
    const count = this.count;
    this.control[CALL_COUNT] = count;
    this.count = 0;
    this.recorded.length = 0;
    return count;
  }

  /**
   * Whether any of `arrays` (a call about to run at once) shares memory with a recorded call's arrays:
   * then the recorded calls must run first, or this call would see (or be overwritten by) values from
   * before them.
   */
  private overlapsRecorded(arrays: readonly (FloatArray | null)[]): boolean {
    if (this.recorded.length === 0) return false;
    for (const a of arrays) {
      if (a === null) continue;
      const start = a.byteOffset;
      const end = start + a.byteLength;
      for (const r of this.recorded) if (r.buffer === a.buffer && start < r.end && r.start < end) return true;
    }
    return false;
  }

  /** Records the call when it is large enough and every array is in shared memory, with p's length and dtype; returns whether it did. */
  private record(kind: number, p: FloatArray, arrays: readonly (FloatArray | null)[], scalars: readonly number[], flush: () => void): boolean {
    if (p.length < SPLIT_MIN_ELEMENTS) return false;
    for (const a of arrays) {
      if (a !== null && (a.length !== p.length || a.constructor !== p.constructor || !this.buffers.includes(a.buffer as SharedArrayBuffer))) return false;
    }
    const c = this.control;
    const at = this.layout.call(this.count);
    c[at + CALL_KIND] = kind;
    c[at + CALL_LENGTH] = p.length;
    c[at + CALL_DTYPE] = p instanceof Float64Array ? FLOAT64 : FLOAT32;
    arrays.forEach((a, i) => {
      c[at + CALL_ARRAYS + 2 * i] = a === null ? NO_ARRAY : this.buffers.indexOf(a.buffer as SharedArrayBuffer);
      c[at + CALL_ARRAYS + 2 * i + 1] = a === null ? 0 : a.byteOffset;
    });
    for (const a of arrays) if (a !== null) this.recorded.push({ buffer: a.buffer, start: a.byteOffset, end: a.byteOffset + a.byteLength });
    const s = this.layout.scalars(this.count);
    for (let i = 0; i < scalars.length; i++) this.scalars[s + i] = scalars[i]!;
    if (++this.count === MAX_CALLS) flush();
    return true;
  }
}

/**
 * Runs replica `replica`'s slice of each of the CALL_COUNT calls in the control block with `kernel` (the
 * calling thread passes the kernel that ran before the recorder, a replica its own resolution).
 */
export function runCalls(control: Int32Array, layout: ControlLayout, replica: number, buffers: CallBuffers, kernel: kernels.OptimizerKernel): void {
  const c = control;
  const scalars = new Float64Array(c.buffer);
  const count = c[CALL_COUNT]!;
  for (let k = 0; k < count; k++) {
    const at = layout.call(k);
    const code = c[at + CALL_DTYPE]!;
    const bounds = shardBounds(c[at + CALL_LENGTH]!, layout.replicas);
    const from = bounds[replica]!;
    const length = bounds[replica + 1]! - from;
    if (length === 0) continue;
    const array = (i: number): FloatArray | null => {
      const buffer = c[at + CALL_ARRAYS + 2 * i]!;
      return buffer === NO_ARRAY ? null : viewOf(buffers[buffer]!, code, c[at + CALL_ARRAYS + 2 * i + 1]! + from * bytesOf(code), length);
    };
    const s0 = layout.scalars(k);
    const s = (i: number): number => scalars[s0 + i]!;
    if (c[at + CALL_KIND] === CALL_SGD) {
      kernel.sgd(array(0)!, array(1)!, array(2), s(6) === 1, { lr: s(0), momentum: s(1), dampening: s(2), nesterov: s(3) === 1, weightDecay: s(4), maximize: s(5) === 1 });
    } else {
      const h = { lr: s(0), betas: [s(1), s(2)] as [number, number], eps: s(3), weightDecay: s(4), amsgrad: s(5) === 1, maximize: s(6) === 1 };
      kernel.adam(array(0)!, array(1)!, array(2)!, array(3)!, array(4), s(7), h, s(8) === 1);
    }
  }
}

/** The buffers a kernel call's arrays may live in, in the order of their indices in protocol.ts. */
export function callBuffers(state: SharedArrayBuffer, gradients: SharedArrayBuffer, optimizerState: SharedArrayBuffer): CallBuffers {
  return [state, gradients, optimizerState];
}
