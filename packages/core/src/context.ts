import type { NDArray } from "./dtype.js";

/**
 * What a Function's forward leaves for its backward: saved arrays, which inputs need a gradient,
 * and any plain attributes the Function sets on it (`ctx.stride = 2`).
 */
export class Context {
  [attribute: string]: unknown;
  /** needsInputGrad[i]: whether argument i of apply is a Tensor that requires grad. */
  needsInputGrad: readonly boolean[];
  private saved: NDArray[] = [];

  constructor(needsInputGrad: readonly boolean[]) {
    this.needsInputGrad = needsInputGrad;
  }

  saveForBackward(...arrays: NDArray[]): void {
    this.saved = arrays;
  }

  get savedTensors(): readonly NDArray[] {
    return this.saved;
  }
}
