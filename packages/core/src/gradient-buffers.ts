import { recycle, storageOf } from "./buffer-pool.js";
import type { FloatArray, NDArray } from "./dtype.js";
import { isPacked } from "./ndarray-utils.js";

/**
 * The backward engine's bookkeeping for recycling its own gradient buffers. A buffer may go back to
 * the pool only when (1) it was allocated during this backward pass, so no forward value, saved
 * array, user tensor or root gradient can be it, and (2) no gradient the engine still holds is a
 * view of it. Gradients alias freely (Add passes `g` through, reshape returns views, a broadcast
 * gradient is a stride-0 view), so holders are counted per underlying storage (storageOf: the
 * ArrayBuffer, or a region of the threads' shared WebAssembly memory), not per ndarray.
 * Backward functions must not keep a gradient they return (in a cache, a global, or ctx under
 * retainGraph); the engine recycles only when the graph is released.
 */
export class GradientBuffers {
  /** Every array allocated during the pass, by its buffer. */
  readonly births = new Map<object, FloatArray>();
  /**
   * How many gradient entries refer to each buffer. A count that falls to 0 stays in the Map as 0:
   * deleting most entries of a Map during the pass makes V8 reallocate its table again and again.
   */
  private readonly holders = new Map<object, number>();

  /** A gradient entry now refers to `a`. */
  hold(a: NDArray): void {
    const buffer = storageOf(a.data);
    this.holders.set(buffer, (this.holders.get(buffer) ?? 0) + 1);
  }

  /** A gradient entry that referred to `a` is gone: recycles its buffer if nothing holds it any more. */
  drop(a: NDArray): void {
    const buffer = storageOf(a.data);
    const count = Math.max(0, (this.holders.get(buffer) ?? 0) - 1);
    this.holders.set(buffer, count);
    if (count === 0) this.recycleIfOwned(buffer);
  }

  /** `a` was never held (a gradient summed into another): recycles its buffer if nothing holds it. */
  discard(a: NDArray): void {
    const buffer = storageOf(a.data);
    if (!this.held(buffer)) this.recycleIfOwned(buffer);
  }

  /**
   * Whether `a` is a packed array of this pass's own that exactly one gradient entry holds: nothing else
   * (a forward value, a saved array, a user's tensor, another entry's view) can see it, so the engine may
   * write into it or hand it over.
   */
  exclusive(a: NDArray): boolean {
    const buffer = storageOf(a.data);
    return this.births.get(buffer) === a.data && this.holders.get(buffer) === 1 && isPacked(a);
  }

  /**
   * An exclusive array (see exclusive) leaves the pass's care: it becomes a tensor's `.grad`, unseen until
   * read (unseen-grad.ts: it may stay in the threads' shared memory, and goes back to the pool when
   * dropped unread; the first read moves it to ordinary memory).
   */
  release(a: NDArray): void {
    const buffer = storageOf(a.data);
    this.holders.set(buffer, 0);
    this.births.delete(buffer);
  }

  /** Recycles an array that only a released call's ctx referenced (see Tracer.keepPrivate), unless a gradient still views it. */
  dropPrivate(a: FloatArray): void {
    if (!this.held(storageOf(a))) recycle(a);
  }

  private held(buffer: object): boolean {
    return (this.holders.get(buffer) ?? 0) > 0;
  }

  private recycleIfOwned(buffer: object): void {
    const born = this.births.get(buffer);
    if (born === undefined) return;
    this.births.delete(buffer);
    recycle(born);
  }
}
