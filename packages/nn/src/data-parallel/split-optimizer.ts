import { type FloatArray, kernels } from "@pico/core";
import {
  CALL_ADAM,
  CALL_ARRAYS,
  CALL_DONE,
  CALL_DTYPE,
  CALL_END,
  CALL_KIND,
  CALL_LENGTH,
  CALL_SEQ,
  CALL_SGD,
  type ControlLayout,
  DONE,
  EXITED,
  FLOAT32,
  FLOAT64,
  NO_ARRAY,
  bytesOf,
  viewOf,
} from "./protocol.js";
import { shardBounds } from "./shards.js";
import { waitWhileEqual } from "./wait.js";

// DataParallel.step's optimizer step on every replica at once. The optimizers of @pico/optim update each
// parameter through core's "optimizer" kernel family, whose calls are elementwise: element k of the
// parameter, its gradient and its state depend on element k alone. While the calling thread runs the
// user's optimizer.step(), a kernel installed over the family (KernelFamily.override) posts every call
// whose arrays all live in shared memory to the replicas, and each thread, the calling one included,
// runs the same kernel call on its own contiguous slice of the arrays; the call returns when every slice
// is done. Same arithmetic per element, so the same bits as the optimizer on one thread, and each call
// is over when it returns, so the optimizer can read what it wrote. A call whose arrays are not all in
// shared memory (state created by this very step, a strided parameter's copy) runs on the calling thread.

/**
 * Below this many elements a call runs on the calling thread alone: the slices would take less time than
 * posting them (a bias). The split pays from a few thousand float32 elements (Adam: ~4 ns an element).
 */
const SPLIT_MIN_ELEMENTS = 2048;

/** The shared buffers an array of a kernel call may live in, by their index (STATE_BUFFER, GRADIENT_BUFFER, OPTIMIZER_BUFFER). */
export type CallBuffers = readonly SharedArrayBuffer[];

/** The calling thread's side: the kernel that posts calls to the replicas while an optimizer steps. */
export class OptimizerSplit {
  /** Calls posted so far, counting the END of each step; every replica counts the same. */
  private calls = 0;
  private readonly scalars: Float64Array;

  constructor(
    private readonly control: Int32Array,
    private readonly layout: ControlLayout,
    private readonly buffers: CallBuffers,
    private readonly polls: number,
  ) {
    this.scalars = new Float64Array(control.buffer);
  }

  /**
   * The kernel to install over the optimizer family for one step: it splits the calls it can across the
   * replicas (who must be serving OPTIMIZE) and hands the others to `base`, the kernel that ran before.
   * A replica that exits or misses `deadline` makes the call throw.
   */
  kernel(base: kernels.OptimizerKernel, deadline: number): kernels.OptimizerKernel {
    return {
      sgd: (p, g, buf, first, h) => {
        const ids = this.shareable(p, [p, g, buf]);
        if (ids === null) return base.sgd(p, g, buf, first, h);
        this.post(CALL_SGD, p, ids, [h.lr, h.momentum, h.dampening, h.nesterov ? 1 : 0, h.weightDecay, h.maximize ? 1 : 0, first ? 1 : 0]);
        const [from, to] = ownSlice(p.length, this.layout.replicas);
        base.sgd(p.subarray(from, to), g.subarray(from, to), buf === null ? null : buf.subarray(from, to), first, h);
        this.waitForSlices(deadline);
      },
      adam: (p, g, m, v, vmax, step, h, decoupled) => {
        const ids = this.shareable(p, [p, g, m, v, vmax]);
        if (ids === null) return base.adam(p, g, m, v, vmax, step, h, decoupled);
        this.post(CALL_ADAM, p, ids, [h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, h.amsgrad ? 1 : 0, h.maximize ? 1 : 0, step, decoupled ? 1 : 0]);
        const [from, to] = ownSlice(p.length, this.layout.replicas);
        const slice = (a: FloatArray): FloatArray => a.subarray(from, to);
        base.adam(slice(p), slice(g), slice(m), slice(v), vmax === null ? null : slice(vmax), step, h, decoupled);
        this.waitForSlices(deadline);
      },
    };
  }

  /** Tells the replicas that the step's calls are over (they then finish the OPTIMIZE command). */
  end(): void {
    this.control[CALL_KIND] = CALL_END;
    this.publish();
  }

  /** Each array's (buffer, byte offset) pair when the call is large enough and every array is in shared memory, with p's length and dtype; else null. */
  private shareable(p: FloatArray, arrays: readonly (FloatArray | null)[]): number[] | null {
    if (p.length < SPLIT_MIN_ELEMENTS) return null;
    const ids: number[] = [];
    for (const a of arrays) {
      if (a === null) {
        ids.push(NO_ARRAY, 0);
        continue;
      }
      if (a.length !== p.length || a.constructor !== p.constructor) return null;
      const buffer = this.buffers.indexOf(a.buffer as SharedArrayBuffer);
      if (buffer < 0) return null;
      ids.push(buffer, a.byteOffset);
    }
    return ids;
  }

  private post(kind: number, p: FloatArray, ids: readonly number[], scalars: readonly number[]): void {
    const c = this.control;
    c[CALL_KIND] = kind;
    c[CALL_LENGTH] = p.length;
    c[CALL_DTYPE] = p instanceof Float64Array ? FLOAT64 : FLOAT32;
    for (let i = 0; i < ids.length; i++) c[CALL_ARRAYS + i] = ids[i]!;
    for (let i = 0; i < scalars.length; i++) this.scalars[this.layout.scalars + i] = scalars[i]!;
    this.publish();
  }

  private publish(): void {
    this.calls = (this.calls + 1) | 0;
    Atomics.store(this.control, CALL_SEQ, this.calls);
    Atomics.notify(this.control, CALL_SEQ);
  }

  private waitForSlices(deadline: number): void {
    const c = this.control;
    for (let r = 1; r < this.layout.replicas; r++) {
      const at = this.layout.worker(r);
      for (;;) {
        const done = Atomics.load(c, at + CALL_DONE);
        if (done === this.calls) break;
        if (Atomics.load(c, at + DONE) === EXITED) throw new Error(`replica ${r}'s thread exited during the optimizer step`);
        if (!waitWhileEqual(c, at + CALL_DONE, done, this.polls, deadline)) throw new Error(`replica ${r} did not finish its slice of the optimizer step in time`);
      }
    }
  }
}

/** The calling thread's slice of an `n`-element call: replica 0's. */
function ownSlice(n: number, replicas: number): [number, number] {
  const bounds = shardBounds(n, replicas);
  return [bounds[0]!, bounds[1]!];
}

/**
 * A replica's side of an OPTIMIZE command: runs its slice of every call the calling thread posts, with
 * its own resolution of the optimizer family, until the END call. `seen` is the calls this replica has
 * counted so far; returns the new count and the first failure's message (every call is answered anyway,
 * so that the calling thread never waits for a slice that will not come).
 */
export function serveOptimizerCalls(
  control: Int32Array,
  layout: ControlLayout,
  replica: number,
  buffers: CallBuffers,
  polls: number,
  seen: number,
): { seen: number; failure: string | null } {
  const c = control;
  const scalars = new Float64Array(c.buffer);
  const at = layout.worker(replica) + CALL_DONE;
  let failure: string | null = null;
  for (;;) {
    waitWhileEqual(c, CALL_SEQ, seen, polls);
    seen = Atomics.load(c, CALL_SEQ);
    const kind = c[CALL_KIND]!;
    if (kind === CALL_END) return { seen, failure };
    try {
      const n = c[CALL_LENGTH]!;
      const code = c[CALL_DTYPE]!;
      const bounds = shardBounds(n, layout.replicas);
      const from = bounds[replica]!;
      const count = bounds[replica + 1]! - from;
      const array = (i: number): FloatArray | null => {
        const buffer = c[CALL_ARRAYS + 2 * i]!;
        if (buffer === NO_ARRAY) return null;
        return viewOf(buffers[buffer]!, code, c[CALL_ARRAYS + 2 * i + 1]! + from * bytesOf(code), count);
      };
      const s = (i: number): number => scalars[layout.scalars + i]!;
      const { kernel } = kernels.optimizerKernels.resolve();
      if (count > 0 && kind === CALL_SGD) {
        kernel.sgd(array(0)!, array(1)!, array(2), s(6) === 1, { lr: s(0), momentum: s(1), dampening: s(2), nesterov: s(3) === 1, weightDecay: s(4), maximize: s(5) === 1 });
      } else if (count > 0 && kind === CALL_ADAM) {
        const h = { lr: s(0), betas: [s(1), s(2)] as [number, number], eps: s(3), weightDecay: s(4), amsgrad: s(5) === 1, maximize: s(6) === 1 };
        kernel.adam(array(0)!, array(1)!, array(2)!, array(3)!, array(4), s(7), h, s(8) === 1);
      }
    } catch (error) {
      failure ??= `its slice of an optimizer call failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    }
    Atomics.store(c, at, seen);
    Atomics.notify(c, at);
  }
}

/** The buffers a kernel call's arrays may live in, in the order of their indices in protocol.ts. */
export function callBuffers(state: SharedArrayBuffer, gradients: SharedArrayBuffer, optimizerState: SharedArrayBuffer): CallBuffers {
  return [state, gradients, optimizerState];
}
