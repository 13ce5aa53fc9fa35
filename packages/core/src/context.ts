import type { FloatArray, NDArray } from "./dtype.js";
import { versionOf } from "./version.js";

const NOTHING_SAVED: readonly NDArray[] = Object.freeze([]);
const NO_VERSIONS: readonly number[] = Object.freeze([]);

/**
 * What a Function's forward leaves for its backward: saved arrays, which inputs need a gradient,
 * and any plain attributes the Function sets on it (`ctx.stride = 2`).
 */
export class Context {
  [attribute: string]: unknown;
  /** needsInputGrad[i]: whether argument i of apply is a Tensor that requires grad. */
  needsInputGrad: readonly boolean[];
  /**
   * True when this ctx serves every run of one node of a compiled graph (graph/compile.ts): a forward
   * may keep what it derives from its arguments for the next run (a convolution's prepared weights),
   * checked against their buffers and versions. False for every eager call, whose ctx is new.
   */
  reused = false;
  // Shared empty arrays until saveForBackward: a context is made for every operator call, and many save nothing.
  private saved: readonly NDArray[] = NOTHING_SAVED;
  private savedVersions: readonly number[] = NO_VERSIONS;
  // The tracer's (Tracer.keepPrivate), on the context itself rather than in a WeakMap keyed by it (an
  // entry set and deleted per call); a private field, so that no attribute a Function sets can clash.
  #privateArrays: FloatArray[] | null = null;

  constructor(needsInputGrad: readonly boolean[]) {
    this.needsInputGrad = needsInputGrad;
  }

  /** Keeps arrays for backward, each with its buffer's version: backward refuses to run if one was written in place since. */
  saveForBackward(...arrays: NDArray[]): void {
    this.saved = arrays;
    this.savedVersions = arrays.map(versionOf);
  }

  /** @internal Tracer.keepPrivate's arrays for this call, or null. */
  get privateArrays(): FloatArray[] | null {
    return this.#privateArrays;
  }

  /** @internal Set by Tracer.keepPrivate, emptied (null) by Tracer.takePrivate. */
  set privateArrays(arrays: FloatArray[] | null) {
    this.#privateArrays = arrays;
  }

  get savedTensors(): readonly NDArray[] {
    return this.saved;
  }

  /** The first saved array written in place since it was saved, with the versions then and now; null when none was. */
  modifiedSaved(): { index: number; array: NDArray; saved: number; now: number } | null {
    for (let i = 0; i < this.saved.length; i++) {
      const array = this.saved[i]!;
      const now = versionOf(array);
      if (now !== this.savedVersions[i]) return { index: i, array, saved: this.savedVersions[i]!, now };
    }
    return null;
  }
}
