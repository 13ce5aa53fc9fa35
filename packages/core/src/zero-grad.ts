import ops from "ndarray-ops";
import type { NDArray } from "./dtype.js";
import { ArgumentError } from "./errors.js";
import { isContiguous, isPacked } from "./ndarray-utils.js";

/** Options of `zeroGrad` (Tensor's, nn's Module's and the optimizers'). */
export interface ZeroGradOptions {
  /**
   * true (the default, as in PyTorch 2): `.grad` becomes null. false (PyTorch 1.13's default,
   * `zero_grad(set_to_none=False)`): an existing `.grad` is filled with zeros where it is, so the next
   * backward adds into the same array.
   */
  setToNone?: boolean;
}

/**
 * Checks zeroGrad's `options` for `owner` (`Tensor.zeroGrad`, `Linear.zeroGrad`, `SGD.zeroGrad`) and
 * returns whether gradients become null: a non-object, an unknown key (a typo would otherwise drop the
 * option) or a non-boolean `setToNone` is refused.
 */
export function zeroGradSetsToNone(owner: string, options: unknown): boolean {
  if (options === undefined) return true;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ArgumentError(`${owner}: options must be an object like { setToNone: false }, but got ${shown(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== "setToNone") throw new ArgumentError(`${owner}: unknown option ${JSON.stringify(key)}; the options are setToNone`);
  }
  const setToNone = (options as { setToNone?: unknown }).setToNone;
  if (setToNone === undefined) return true;
  if (typeof setToNone !== "boolean") throw new ArgumentError(`${owner}: setToNone must be true or false, but got ${shown(setToNone)}`);
  return setToNone;
}

/** Writes 0 into every element `a` shows (a strided view's gaps are left alone). */
export function fillZerosInPlace(a: NDArray): void {
  if (isPacked(a)) a.data.fill(0);
  else if (isContiguous(a)) a.data.fill(0, a.offset, a.offset + a.size);
  else if (a.size > 0) ops.assigns(a, 0);
}

function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === "function") return `a function ${value.name}`.trimEnd();
  return String(value);
}
