import { Tensor, kernels } from "@pico/core";
import { growTo } from "./data-buffer.js";
import { align8, bytesOf, dtypeCode, viewOf } from "./protocol.js";
import { adopt } from "./shared-state.js";

/** What DataParallel.step reads of an optimizer: torch's `optimizer.state`, per parameter its buffers (Tensors) and counters. */
type StateMap = Map<unknown, unknown>;

/**
 * Moves an optimizer's per-parameter state tensors (Adam's moment estimates, SGD's momentum buffer) into
 * shared memory, where the replicas can update their slices of them (see split-optimizer.ts): each one
 * that belongs to a parameter living in shared memory and has its size and dtype. The values stay as they
 * were and the optimizer keeps its tensors (their data now views the shared buffer), so its stateDict and
 * loadStateDict work as before; a state tensor that replaces one (loadStateDict) moves into the same place.
 * State beyond the buffer's reserve stays where it is (its calls then run on the calling thread).
 */
export class OptimizerStateSharing {
  /** Per parameter and state key, the shared place its state tensor moved into. */
  private readonly places = new Map<Tensor, Map<string, Float32Array | Float64Array>>();
  private bytes = 0;

  constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly parameterBuffer: SharedArrayBuffer,
  ) {}

  /** Moves `optimizer.state`'s tensors that are not yet shared into shared memory. */
  share(optimizer: object): void {
    const state = (optimizer as { state?: unknown }).state;
    if (!(state instanceof Map)) return;
    for (const [param, record] of state as StateMap) {
      if (!(param instanceof Tensor) || typeof record !== "object" || record === null) continue;
      if (param.data.data.buffer !== this.parameterBuffer) continue;
      for (const key of Object.keys(record)) {
        const t = (record as Record<string, unknown>)[key];
        if (!(t instanceof Tensor) || t.data.data.buffer === this.buffer) continue;
        if (t.dtype !== param.dtype || t.size !== param.size || !kernels.isPacked(t.data)) continue;
        const place = this.place(param, key, t);
        if (place !== null) adopt(t, place, true);
      }
    }
  }

  private place(param: Tensor, key: string, t: Tensor): Float32Array | Float64Array | null {
    let places = this.places.get(param);
    if (places === undefined) {
      places = new Map();
      this.places.set(param, places);
    }
    const known = places.get(key);
    if (known !== undefined) return known;
    const code = dtypeCode(t.dtype);
    const end = this.bytes + align8(t.size * bytesOf(code));
    if (end > (this.buffer as unknown as { maxByteLength: number }).maxByteLength) return null;
    growTo(this.buffer, end);
    const place = viewOf(this.buffer, code, this.bytes, t.size);
    this.bytes = end;
    places.set(key, place);
    return place;
  }
}
