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
  CALL_MAX_ARRAYS,
  CALL_SGD,
  CHUNK_NEXT,
  CHUNK_TOTAL,
  type ControlLayout,
  FLOAT32,
  FLOAT64,
  NO_ARRAY,
  SLEEPERS,
  WAKE,
  bytesOf,
  viewOf,
} from "./protocol.js";
import type { Spin } from "./wait.js";

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
//
// DataParallel.trainStep records the calls within its STEP command instead, with no second command: once
// every chunk's gradients are in, every thread sums its slice of them (gradient-sum.ts), the calling
// thread then records the calls, and every thread claims their chunks as above once all the sums are
// done (SUMS_DONE): a replica updates while the calling thread still records, and the calling thread,
// which has the recording (and the batch's output) to do besides, takes fewer chunks, as does a thread
// kept off its core. There every call whose arrays are in shared memory is recorded, whatever its size
// (no call may run before the sums); a call that cannot be recorded, and every call after it, runs on
// the calling thread once the command is over, in order.
//
// A thread that finds no chunk to claim polls, then counts itself in SLEEPERS and sleeps on WAKE, which
// the calling thread bumps after each store to CHUNK_TOTAL or CALLS_END and notifies only while a thread
// is counted; the sleeper read WAKE before it looked at those, so a store after its look is never missed.

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
  /** The byte ranges of the arrays of the running command's calls (buffer, start, end per array): a call that runs at once over any of them runs them first. */
  private readonly recordedBuffers: ArrayBufferLike[] = [];
  private readonly recordedRanges: number[] = [];
  /** How many of recordedBuffers belong to the running command (the arrays keep their capacity across commands). */
  private recordedCount = 0;
  /**
   * Per shared buffer (this.buffers' order): the lowest start and highest end of the running command's
   * recorded arrays there. An optimizer's calls come parameter after parameter, each past the last, so
   * an array outside this span (nearly every one) needs no look at the recorded ranges one by one.
   */
  private readonly recordedSpan = [Infinity, -Infinity, Infinity, -Infinity, Infinity, -Infinity];
  /** The recorder's arguments for record, refilled for every call (no arrays made per call). */
  private readonly arrays: (FloatArray | null)[] = [null, null, null, null, null];
  private readonly callScalars: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  /** Whether the calls are recorded for a trainStep's STEP command (beginInStep) rather than an OPTIMIZE command. */
  private inStep = false;
  /** In a STEP command: the calls that could not be recorded, and every call after the first of them, to run once it is over (runDeferred). */
  private readonly deferred: (() => void)[] = [];

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
        const arrays = this.arrays;
        arrays[0] = p;
        arrays[1] = g;
        arrays[2] = buf;
        arrays[3] = arrays[4] = null;
        const x = this.callScalars;
        x[0] = h.lr;
        x[1] = h.momentum;
        x[2] = h.dampening;
        x[3] = h.nesterov ? 1 : 0;
        x[4] = h.weightDecay;
        x[5] = h.maximize ? 1 : 0;
        x[6] = first ? 1 : 0;
        const recorded = this.record(CALL_SGD, p, 3, begin, flush);
        if (!recorded && this.inStep) this.deferred.push(() => base.sgd(p, g, buf, first, h));
        else if (!recorded) {
          if (this.overlapsRecorded(3)) flush();
          base.sgd(p, g, buf, first, h);
        }
        arrays.fill(null);
      },
      adam: (p, g, m, v, vmax, step, h, decoupled) => {
        this.stateArrays.add(m).add(v);
        if (vmax !== null) this.stateArrays.add(vmax);
        const x = this.callScalars;
        x[0] = h.lr;
        x[1] = h.betas[0];
        x[2] = h.betas[1];
        x[3] = h.eps;
        x[4] = h.weightDecay;
        x[5] = h.amsgrad ? 1 : 0;
        x[6] = h.maximize ? 1 : 0;
        x[7] = step;
        x[8] = decoupled ? 1 : 0;
        const arrays = this.arrays;
        arrays[0] = p;
        arrays[1] = g;
        arrays[2] = m;
        arrays[3] = v;
        arrays[4] = vmax;
        const recorded = this.record(CALL_ADAM, p, 5, begin, flush);
        if (!recorded && this.inStep) this.deferred.push(() => base.adam(p, g, m, v, vmax, step, h, decoupled));
        else if (!recorded) {
          if (this.overlapsRecorded(5)) flush();
          base.adam(p, g, m, v, vmax, step, h, decoupled);
        }
        arrays.fill(null);
      },
    };
  }

  /**
   * Records the next calls for the running STEP command (a trainStep's), whose CALL_COUNT the calling
   * thread set to 0 before signalling it; endInStep ends them.
   */
  beginInStep(): void {
    this.inStep = true;
    this.count = 0;
    this.chunks = 0;
    this.forgetRecorded();
  }

  /** No call follows in the STEP command of count `seq` (CALLS_END): the replicas stop waiting for calls, also when none was recorded. */
  endInStep(seq: number): void {
    Atomics.store(this.control, CALLS_END, seq);
    wakeSleepers(this.control);
    this.inStep = false;
    this.count = 0;
    this.chunks = 0;
    this.forgetRecorded();
  }

  /** Runs, in order, the calls a STEP command could not record (on this thread, with the kernels they were made for); returns whether there were any. */
  runDeferred(): boolean {
    const deferred = this.deferred;
    if (deferred.length === 0) return false;
    try {
      for (let i = 0; i < deferred.length; i++) deferred[i]!();
    } finally {
      deferred.length = 0;
    }
    return true;
  }

  /** Forgets the calls a failed STEP command could not record. */
  dropDeferred(): void {
    this.deferred.length = 0;
  }

  /**
   * Ends the running command, if any: no call follows (CALLS_END is `seq`, the command's count), and the
   * next recorded call starts a new command. Returns whether a command was running.
   */
  end(seq: number): boolean {
    if (this.count === 0) return false;
    Atomics.store(this.control, CALLS_END, seq);
    wakeSleepers(this.control);
    this.count = 0;
    this.chunks = 0;
    this.forgetRecorded();
    return true;
  }

  /** The running command's recorded arrays are forgotten (it ended, or a new one starts). */
  private forgetRecorded(): void {
    this.recordedCount = 0;
    const span = this.recordedSpan;
    for (let b = 0; b < span.length; b += 2) {
      span[b] = Infinity;
      span[b + 1] = -Infinity;
    }
  }

  /**
   * Whether any of the first `n` of this.arrays (a call about to run at once) shares memory with a
   * recorded call's arrays: then the recorded calls must run first, or this call would see (or be
   * overwritten by) values from before them.
   */
  private overlapsRecorded(n: number): boolean {
    const buffers = this.recordedBuffers;
    const count = this.recordedCount;
    if (count === 0) return false;
    const ranges = this.recordedRanges;
    const span = this.recordedSpan;
    for (let i = 0; i < n; i++) {
      const a = this.arrays[i];
      if (a === null || a === undefined) continue;
      // Every recorded array lives in one of the shared buffers: an array elsewhere overlaps none.
      const b = this.buffers.indexOf(a.buffer as SharedArrayBuffer);
      if (b === -1) continue;
      const start = a.byteOffset;
      const end = start + a.byteLength;
      if (end <= span[2 * b]! || start >= span[2 * b + 1]!) continue;
      for (let r = 0; r < count; r++) if (buffers[r] === a.buffer && start < ranges[2 * r + 1]! && ranges[2 * r]! < end) return true;
    }
    return false;
  }

  /**
   * Records the call whose first `n` arrays are this.arrays and whose scalars are this.callScalars, when
   * it is large enough and every array is in shared memory, with p's length and dtype, and makes its
   * chunks claimable; returns whether it did.
   */
  private record(kind: number, p: FloatArray, n: number, begin: () => void, flush: () => void): boolean {
    const inStep = this.inStep;
    // In a STEP command every call after one that runs later runs later too (their order stays).
    if (inStep ? this.deferred.length > 0 || this.count === this.layout.maxCalls : p.length < SPLIT_MIN_ELEMENTS) return false;
    const arrays = this.arrays;
    for (let i = 0; i < n; i++) {
      const a = arrays[i]!;
      if (a !== null && (a.length !== p.length || a.constructor !== p.constructor || !this.buffers.includes(a.buffer as SharedArrayBuffer))) return false;
    }
    // Chunks of one command run in any order on any thread: a call over the memory of one recorded in
    // this command (Adam then SGD on the same parameter) waits for that command to complete; in a STEP
    // command, until it is over.
    if (this.count > 0 && this.overlapsRecorded(n)) {
      if (inStep) return false;
      flush();
    }
    const c = this.control;
    if (this.count === 0 && !inStep) {
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
    for (let i = 0; i < n; i++) {
      const a = arrays[i]!;
      c[at + CALL_ARRAYS + 2 * i] = a === null ? NO_ARRAY : this.buffers.indexOf(a.buffer as SharedArrayBuffer);
      c[at + CALL_ARRAYS + 2 * i + 1] = a === null ? 0 : a.byteOffset;
      if (a === null) continue;
      const r = this.recordedCount++;
      this.recordedBuffers[r] = a.buffer;
      this.recordedRanges[2 * r] = a.byteOffset;
      this.recordedRanges[2 * r + 1] = a.byteOffset + a.byteLength;
      const b = 2 * c[at + CALL_ARRAYS + 2 * i]!;
      const span = this.recordedSpan;
      if (a.byteOffset < span[b]!) span[b] = a.byteOffset;
      if (a.byteOffset + a.byteLength > span[b + 1]!) span[b + 1] = a.byteOffset + a.byteLength;
    }
    const s = this.layout.scalars(this.count);
    const scalars = this.callScalars;
    for (let i = 0; i < scalars.length; i++) this.scalars[s + i] = scalars[i]!;
    this.chunks += chunks;
    // The call's fields before its count, its count before its chunks: a worker that claims a chunk finds its call.
    Atomics.store(c, CALL_COUNT, ++this.count);
    Atomics.store(c, CHUNK_TOTAL, this.chunks);
    wakeSleepers(c);
    if (this.count === this.layout.maxCalls && !inStep) flush();
    return true;
  }
}

/**
 * One thread's side of running the recorded calls' chunks. It keeps, per chunk number, the views of the
 * chunk's arrays it made last (reused while the call's arrays stay where they were: the same parameters
 * step after step) and one hyperparameter object per kind, so that a step's chunks allocate nothing.
 */
export class ChunkRunner {
  private readonly scalars: Float64Array;
  /** Per slot (a chunk's number) · CALL_MAX_ARRAYS + array: the view made last, and its buffer, byte offset, length and dtype. */
  private readonly views: (FloatArray | null)[] = [];
  private readonly keys: number[] = [];
  private readonly sgdHyper: kernels.SgdHyper = { lr: 0, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
  private readonly adamHyper: kernels.AdamHyper = {
    lr: 0,
    betas: [0, 0],
    eps: 0,
    weightDecay: 0,
    amsgrad: false,
    maximize: false,
  };

  constructor(
    private readonly control: Int32Array,
    private readonly layout: ControlLayout,
    private readonly buffers: CallBuffers,
  ) {
    this.scalars = new Float64Array(control.buffer);
  }

  /**
   * Claims and runs chunks of the recorded calls of the command `seq` (OPTIMIZE, or a trainStep's STEP
   * once every thread's sums are done) with `kernel` (the calling thread passes the kernel that ran before
   * the recorder, a worker its own resolution) until the calls have ended (CALLS_END) and no chunk is left; waits for more calls in between (polling as `spin`
   * says before sleeping). On return, every chunk this thread claimed has run.
   */
  run(kernel: kernels.OptimizerKernel, seq: number, spin: Spin): void {
    const c = this.control;
    let call = 0;
    for (let idle = false; ; ) {
      const wake = Atomics.load(c, WAKE);
      const ended = Atomics.load(c, CALLS_END) === seq;
      const total = Atomics.load(c, CHUNK_TOTAL);
      const next = Atomics.load(c, CHUNK_NEXT);
      if (next < total) {
        idle = false;
        if (Atomics.compareExchange(c, CHUNK_NEXT, next, next + 1) !== next) continue;
        const count = Atomics.load(c, CALL_COUNT);
        while (call + 1 < count && next >= c[this.layout.call(call + 1) + CALL_FIRST_CHUNK]!) call++;
        this.runChunk(kernel, call, next);
        continue;
      }
      // CALLS_END is stored after the last CHUNK_TOTAL: once ended, the total read after it is the last.
      if (ended) return;
      if (!idle) {
        idle = true;
        spin.begin();
      }
      if (spin.idle()) {
        Atomics.add(c, SLEEPERS, 1);
        // A store after the looks above bumped WAKE: the wait returns at once, or it is notified (counted now).
        Atomics.wait(c, WAKE, wake, 1);
        Atomics.sub(c, SLEEPERS, 1);
      }
    }
  }

  /** Runs chunk `chunk` (of call `k`) with `kernel`. */
  private runChunk(kernel: kernels.OptimizerKernel, k: number, chunk: number): void {
    const c = this.control;
    const at = this.layout.call(k);
    const chunkLength = c[at + CALL_CHUNK_LENGTH]!;
    const from = (chunk - c[at + CALL_FIRST_CHUNK]!) * chunkLength;
    this.runRange(kernel, k, chunk, from, Math.min(chunkLength, c[at + CALL_LENGTH]! - from));
  }

  /** Runs elements [from, from + length) of call `k` with `kernel`, through the views cached under `slot` (the chunk's number). */
  private runRange(kernel: kernels.OptimizerKernel, k: number, slot: number, from: number, length: number): void {
    if (length <= 0) return;
    const c = this.control;
    const at = this.layout.call(k);
    const code = c[at + CALL_DTYPE]!;
    const s0 = this.layout.scalars(k);
    const x = this.scalars;
    if (c[at + CALL_KIND] === CALL_SGD) {
      const h = this.sgdHyper;
      h.lr = x[s0]!;
      h.momentum = x[s0 + 1]!;
      h.dampening = x[s0 + 2]!;
      h.nesterov = x[s0 + 3] === 1;
      h.weightDecay = x[s0 + 4]!;
      h.maximize = x[s0 + 5] === 1;
      kernel.sgd(this.array(at, slot, 0, code, from, length)!, this.array(at, slot, 1, code, from, length)!, this.array(at, slot, 2, code, from, length), x[s0 + 6] === 1, h);
    } else {
      const h = this.adamHyper;
      h.lr = x[s0]!;
      h.betas[0] = x[s0 + 1]!;
      h.betas[1] = x[s0 + 2]!;
      h.eps = x[s0 + 3]!;
      h.weightDecay = x[s0 + 4]!;
      h.amsgrad = x[s0 + 5] === 1;
      h.maximize = x[s0 + 6] === 1;
      kernel.adam(
        this.array(at, slot, 0, code, from, length)!,
        this.array(at, slot, 1, code, from, length)!,
        this.array(at, slot, 2, code, from, length)!,
        this.array(at, slot, 3, code, from, length)!,
        this.array(at, slot, 4, code, from, length),
        x[s0 + 7]!,
        h,
        x[s0 + 8] === 1,
      );
    }
  }

  /** Array `i` of the call at `at`, elements [from, from + length), as `slot`'s view (the last one made there when it still fits), or null. */
  private array(at: number, slot: number, i: number, code: number, from: number, length: number): FloatArray | null {
    const c = this.control;
    const buffer = c[at + CALL_ARRAYS + 2 * i]!;
    if (buffer === NO_ARRAY) return null;
    const byteOffset = c[at + CALL_ARRAYS + 2 * i + 1]! + from * bytesOf(code);
    const cached = slot * CALL_MAX_ARRAYS + i;
    const keys = this.keys;
    const view = this.views[cached];
    if (view !== undefined && view !== null && keys[4 * cached] === buffer && keys[4 * cached + 1] === byteOffset && keys[4 * cached + 2] === length && keys[4 * cached + 3] === code) return view;
    while (this.views.length <= cached) {
      this.views.push(null);
      keys.push(0, 0, 0, 0);
    }
    const made = viewOf(this.buffers[buffer]!, code, byteOffset, length);
    this.views[cached] = made;
    keys[4 * cached] = buffer;
    keys[4 * cached + 1] = byteOffset;
    keys[4 * cached + 2] = length;
    keys[4 * cached + 3] = code;
    return made;
  }
}

/** Bumps WAKE and wakes the threads counted in SLEEPERS (after a store to CHUNK_TOTAL or CALLS_END): none counted, no notify. */
function wakeSleepers(control: Int32Array): void {
  Atomics.add(control, WAKE, 1);
  if (Atomics.load(control, SLEEPERS) > 0) Atomics.notify(control, WAKE);
}

/** The buffers a kernel call's arrays may live in, in the order of their indices in protocol.ts. */
export function callBuffers(state: SharedArrayBuffer, gradients: SharedArrayBuffer, optimizerState: SharedArrayBuffer): CallBuffers {
  return [state, gradients, optimizerState];
}
