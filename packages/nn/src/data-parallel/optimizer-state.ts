import { type FloatArray, Tensor, kernels } from "@pico/core";
import { growTo } from "./data-buffer.js";
import { align8, bytesOf, dtypeCode, viewOf } from "./protocol.js";
import { adopt, viewsShared } from "./shared-state.js";

/** What DataParallel.step reads of an optimizer: torch's `optimizer.state`, per parameter its buffers (Tensors) and counters. */
type StateMap = Map<unknown, unknown>;

/** A place in the shared buffer and the state tensor that last moved into it (held weakly: a dropped optimizer's state frees its places). */
interface Place {
  readonly view: Float32Array | Float64Array;
  occupant: WeakRef<Tensor>;
  /** The share() call that last moved a tensor in or was handed it (the kernels updated it): the least recent is given up first when the buffer is full. */
  used: number;
}

/**
 * Moves an optimizer's per-parameter state tensors (Adam's moment estimates, SGD's momentum buffer) into
 * shared memory, where the replicas can update their slices of them (see split-optimizer.ts): each one
 * that core's optimizer kernels were handed during the step (the state of the optimizers whose updates
 * split; a user's own optimizer's state is left alone), belongs to a parameter living in shared memory
 * and has its size and dtype. The values stay as they were and the optimizer keeps its tensors (their
 * data now views the shared buffer), so its stateDict and loadStateDict work as before.
 *
 * A place belongs to one tensor while that tensor views it, whatever optimizer or key holds it: two
 * optimizers over the same parameters, or an optimizer that keeps last step's tensor beside a new one,
 * never share memory. A place is taken again once its tensor is gone or views other memory (replaced by
 * loadStateDict); when the buffer is full, the least recently used tensor of the size (moved in or
 * handed to the kernels) is moved back
 * out into memory of its own (the same values; its updates then run on the calling thread).
 */
export class OptimizerStateSharing {
  private readonly places: Place[] = [];
  private bytes = 0;
  private calls = 0;

  constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly parameterBuffer: SharedArrayBuffer,
  ) {}

  /** Moves the tensors of `optimizer.state` that are not yet shared and whose arrays are among `handed` (the optimizer kernels' state arguments) into shared memory. */
  share(optimizer: object, handed: ReadonlySet<FloatArray>): void {
    if (handed.size === 0) return;
    const state = (optimizer as { state?: unknown }).state;
    if (!(state instanceof Map)) return;
    this.calls++;
    // A place's tensor handed to the kernels again counts as used now: eviction goes by last use, not by move-in.
    for (const place of this.places) if (handed.has(place.view)) place.used = this.calls;
    // forEach and for-in: no entry arrays or value arrays made per parameter and step.
    (state as StateMap).forEach((record, param) => {
      if (!(param instanceof Tensor) || typeof record !== "object" || record === null) return;
      if (param.data.data.buffer !== this.parameterBuffer) return;
      for (const key in record) {
        if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
        const t = (record as Record<string, unknown>)[key];
        if (!(t instanceof Tensor) || t.data.data.buffer === this.buffer || !handed.has(t.data.data)) continue;
        if (t.dtype !== param.dtype || t.size !== param.size || !kernels.isPacked(t.data)) continue;
        const place = this.place(t);
        if (place !== null) adopt(t, place.view, true);
      }
    });
  }

  /** A free place for `t` (now `t`'s), a new one, or the least recently used one of its size given up; null when none is left. */
  private place(t: Tensor): Place | null {
    const float64 = t.dtype === "float64";
    let oldest: Place | null = null;
    for (const place of this.places) {
      if (place.view.length !== t.size || place.view instanceof Float64Array !== float64) continue;
      const occupant = place.occupant.deref();
      if (occupant === undefined || !viewsShared(occupant, place.view)) return this.take(place, t);
      if (place.used < this.calls && (oldest === null || place.used < oldest.used)) oldest = place;
    }
    const code = dtypeCode(t.dtype);
    const end = this.bytes + align8(t.size * bytesOf(code));
    if (end <= (this.buffer as unknown as { maxByteLength: number }).maxByteLength) {
      growTo(this.buffer, end);
      const place: Place = { view: viewOf(this.buffer, code, this.bytes, t.size), occupant: new WeakRef(t), used: this.calls };
      this.bytes = end;
      this.places.push(place);
      return place;
    }
    if (oldest === null) return null;
    adopt(oldest.occupant.deref()!, oldest.view.slice(), false);
    return this.take(oldest, t);
  }

  private take(place: Place, t: Tensor): Place {
    place.occupant = new WeakRef(t);
    place.used = this.calls;
    return place;
  }
}
