import { type FloatArray, kernels } from "@pico/core";
import {
  CALLS_END,
  CALL_ADAM,
  CALL_ARRAYS,
  CALL_CHUNK_LENGTH,
  CALL_COUNT,
  CALL_DTYPE,
  CALL_FIRST_CHUNK,
  CALL_KIND,
  CALL_LENGTH,
  CALL_SGD,
  CHUNK_NEXT,
  CHUNK_TOTAL,
  type ControlLayout,
  FLOAT32,
  FLOAT64,
  MAX_CALLS,
  NO_ARRAY,
  bytesOf,
  viewOf,
} from "./protocol.js";

// DataParallel.step's optimizer step on every replica at once. The optimizers of @pico/optim update each
// parameter through core's "optimizer" kernel family, whose calls are elementwise: element k of the
// parameter, its gradient and its state depend on element k alone. While the calling thread runs the
// user's optimizer.step(), a kernel installed over the family (KernelFamily.override) records every call
// whose arrays all live in shared memory instead of running it, as chunks of contiguous elements. The
// first recorded call starts one OPTIMIZE command: the workers claim chunks (an atomic counter) as soon
// as they are recorded, while the calling thread is still in the optimizer's step; once the step
// returns, the calling thread claims the chunks left and waits for the workers' last ones. Same
// arithmetic per element, whoever runs its chunk, so the same bits as the optimizer on one thread, for
// one signal and one wait per step (each wait is a chance to meet a thread taken off its core: a signal
// per call made steps several times slower beside another busy process), and the replicas share the
// work as they come free (a thread kept off its core by another process takes fewer chunks). A call
// whose arrays are not all in shared memory (state created by this very step, a strided parameter's
// copy) runs on the calling thread at once, after the recorded calls when it shares memory with any of
// theirs (an earlier call on the same parameter must update it first).

/**
 * Below this many elements a call runs on the calling thread at once: its slices would save less than
 * they cost to describe and start (a bias). Adam takes ~4 ns an element on one thread here.
 */
const SPLIT_MIN_ELEMENTS = 2048;

/**
 * Elements of a chunk at most: Adam takes ~3 ns an element here, so ~12 us a chunk, against ~1 us to claim
 * one and set up its views and the kernel's call; a call is cut into chunks of equal length (multiples of 4).
 */
const CHUNK_ELEMENTS = 4096;

/** The shared buffers an array of a kernel call may live in, by their index (STATE_BUFFER, GRADIENT_BUFFER, OPTIMIZER_BUFFER). */
export type CallBuffers = readonly SharedArrayBuffer[];

/** The calling thread's side: records an optimizer step's splittable kernel calls into the control block. */
export class OptimizerSplit {
  /** Calls recorded since the command started (none: no command running). */
  private count = 0;
  /** Their chunks. */
  private chunks = 0;
  private readonly scalars: Float64Array;
  /** The state arrays (momentum buffers, moment estimates) the recorder was handed since the last clear: the state that may move into shared memory. */
  readonly stateArrays = new Set<FloatArray>();
  /** The byte ranges of the arrays of the running command's calls: a call that runs at once over any of them runs them first. */
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
   * and hands the others to `base`, the kernel that ran before. `begin` starts the OPTIMIZE command (it
   * is called before the first call of a command is recorded); `flush` must end it and run the
   * chunks left (it is called when MAX_CALLS are recorded, and by the caller after the step).
   */
  recorder(base: kernels.OptimizerKernel, begin: () => void, flush: () => void): kernels.OptimizerKernel {
    return {
      sgd: (p, g, buf, first, h) => {
        if (buf !== null) this.stateArrays.add(buf);
        const arrays = [p, g, buf];
        if (!this.record(CALL_SGD, p, arrays, [h.lr, h.momentum, h.dampening, h.nesterov ? 1 : 0, h.weightDecay, h.maximize ? 1 : 0, first ? 1 : 0], begin, flush)) {
          if (this.overlapsRecorded(arrays)) flush();
          base.sgd(p, g, buf, first, h);
        }
      },
      adam: (p, g, m, v, vmax, step, h, decoupled) => {
        this.stateArrays.add(m).add(v);
        if (vmax !== null) this.stateArrays.add(vmax);
        const scalars = [h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, h.amsgrad ? 1 : 0, h.maximize ? 1 : 0, step, decoupled ? 1 : 0];
        const arrays = [p, g, m, v, vmax];
        if (!this.record(CALL_ADAM, p, arrays, scalars, begin, flush)) {
          if (this.overlapsRecorded(arrays)) flush();
          base.adam(p, g, m, v, vmax, step, h, decoupled);
        }
      },
    };
  }

  /**
   * Ends the running command, if any: no call follows (CALLS_END is `seq`, the command's count), and the
   * next recorded call starts a new command. Returns whether a command was running.
   */
  end(seq: number): boolean {
    if (this.count === 0) return false;
    Atomics.store(this.control, CALLS_END, seq);
    Atomics.notify(this.control, CHUNK_TOTAL);
    this.count = 0;
    this.chunks = 0;
    this.recorded.length = 0;
    return true;
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

  /**
   * Records the call when it is large enough and every array is in shared memory, with p's length and
   * dtype, and makes its chunks claimable; returns whether it did.
   */
  private record(kind: number, p: FloatArray, arrays: readonly (FloatArray | null)[], scalars: readonly number[], begin: () => void, flush: () => void): boolean {
    if (p.length < SPLIT_MIN_ELEMENTS) return false;
    for (const a of arrays) {
      if (a !== null && (a.length !== p.length || a.constructor !== p.constructor || !this.buffers.includes(a.buffer as SharedArrayBuffer))) return false;
    }
    // Chunks of one command run in any order on any thread: a call over the memory of one recorded in
    // this command (Adam then SGD on the same parameter) waits for that command to complete.
    if (this.count > 0 && this.overlapsRecorded(arrays)) flush();
    const c = this.control;
    if (this.count === 0) {
      // The workers wait for the signal: the fields are this thread's until then.
      c[CALL_COUNT] = 0;
      c[CHUNK_TOTAL] = 0;
      c[CHUNK_NEXT] = 0;
      begin();
    }
    const chunks = Math.ceil(p.length / CHUNK_ELEMENTS);
    const at = this.layout.call(this.count);
    c[at + CALL_KIND] = kind;
    c[at + CALL_LENGTH] = p.length;
    c[at + CALL_DTYPE] = p instanceof Float64Array ? FLOAT64 : FLOAT32;
    c[at + CALL_FIRST_CHUNK] = this.chunks;
    c[at + CALL_CHUNK_LENGTH] = Math.ceil(p.length / chunks / 4) * 4;
    arrays.forEach((a, i) => {
      c[at + CALL_ARRAYS + 2 * i] = a === null ? NO_ARRAY : this.buffers.indexOf(a.buffer as SharedArrayBuffer);
      c[at + CALL_ARRAYS + 2 * i + 1] = a === null ? 0 : a.byteOffset;
    });
    for (const a of arrays) if (a !== null) this.recorded.push({ buffer: a.buffer, start: a.byteOffset, end: a.byteOffset + a.byteLength });
    const s = this.layout.scalars(this.count);
    for (let i = 0; i < scalars.length; i++) this.scalars[s + i] = scalars[i]!;
    this.chunks += chunks;
    // The call's fields before its count, its count before its chunks: a worker that claims a chunk finds its call.
    Atomics.store(c, CALL_COUNT, ++this.count);
    Atomics.store(c, CHUNK_TOTAL, this.chunks);
    if (this.count === MAX_CALLS) flush();
    return true;
  }
}

/**
 * Claims and runs chunks of the recorded calls of the OPTIMIZE command `seq` with `kernel` (the calling
 * thread passes the kernel that ran before the recorder, a worker its own resolution) until the command
 * has ended (CALLS_END) and no chunk is left; waits for more calls in between (polling `polls` times
 * before sleeping). On return, every chunk this thread claimed has run.
 */
export function runChunks(control: Int32Array, layout: ControlLayout, buffers: CallBuffers, kernel: kernels.OptimizerKernel, seq: number, polls: number): void {
  const c = control;
  const scalars = new Float64Array(c.buffer);
  let call = 0;
  for (let idle = 0; ; ) {
    const ended = Atomics.load(c, CALLS_END) === seq;
    const total = Atomics.load(c, CHUNK_TOTAL);
    const next = Atomics.load(c, CHUNK_NEXT);
    if (next < total) {
      idle = 0;
      if (Atomics.compareExchange(c, CHUNK_NEXT, next, next + 1) !== next) continue;
      const count = Atomics.load(c, CALL_COUNT);
      while (call + 1 < count && next >= c[layout.call(call + 1) + CALL_FIRST_CHUNK]!) call++;
      runChunk(c, scalars, layout, buffers, kernel, call, next);
      continue;
    }
    // CALLS_END is stored after the last CHUNK_TOTAL: once ended, the total read after it is the last.
    if (ended) return;
    if (++idle > polls) Atomics.wait(c, CHUNK_TOTAL, total, 1);
  }
}

/** Runs chunk `chunk` (of call `k`) with `kernel`. */
function runChunk(c: Int32Array, scalars: Float64Array, layout: ControlLayout, buffers: CallBuffers, kernel: kernels.OptimizerKernel, k: number, chunk: number): void {
  const at = layout.call(k);
  const code = c[at + CALL_DTYPE]!;
  const chunkLength = c[at + CALL_CHUNK_LENGTH]!;
  const from = (chunk - c[at + CALL_FIRST_CHUNK]!) * chunkLength;
  const length = Math.min(chunkLength, c[at + CALL_LENGTH]! - from);
  if (length <= 0) return;
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

/** The buffers a kernel call's arrays may live in, in the order of their indices in protocol.ts. */
export function callBuffers(state: SharedArrayBuffer, gradients: SharedArrayBuffer, optimizerState: SharedArrayBuffer): CallBuffers {
  return [state, gradients, optimizerState];
}
