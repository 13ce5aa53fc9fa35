import { ArgumentError, Tensor } from "@pico/core";

/** Throws unless `value` is a Tensor, naming the operator and the argument. */
export function checkTensor(op: string, name: string, value: unknown): asserts value is Tensor {
  if (!(value instanceof Tensor)) {
    const got = value === null ? "null" : typeof value === "object" ? (value.constructor?.name ?? "an object") : `${typeof value} ${String(value)}`;
    throw new ArgumentError(`${op}: ${name} must be a Tensor, but got ${got}`);
  }
}

/** Throws unless `value` is a number in [min, max] (inclusive unless the bound is listed as open). */
export function checkNumber(op: string, name: string, value: unknown, min: number, max: number, open: { min?: boolean; max?: boolean } = {}): asserts value is number {
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (open.min === true ? value > min : value >= min) &&
    (open.max === true ? value < max : value <= max);
  if (!ok) {
    const lo = open.min === true ? "(" : "[";
    const hi = open.max === true ? ")" : "]";
    throw new ArgumentError(`${op}: ${name} must be a number in ${lo}${min}, ${max}${hi}, but got ${String(value)}`);
  }
}

/** Throws unless `options` is undefined or an object whose keys are all in `known`: an option is used or refused, never ignored. */
export function checkOptions(op: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ArgumentError(`${op}: options must be an object, but got ${options === null ? "null" : Array.isArray(options) ? "an array" : typeof options}`);
  }
  // for-in over own keys rather than Object.keys: no array per call (operators check their options on every call).
  for (const key in options) {
    if (!Object.prototype.hasOwnProperty.call(options, key)) continue;
    if (!known.includes(key) && (options as Record<string, unknown>)[key] !== undefined) {
      throw new ArgumentError(`${op}: unknown option ${JSON.stringify(key)}; the options are ${known.join(", ")}`);
    }
  }
}

/**
 * Throws unless `other` (skipped when null or undefined) has the input's dtype: products and
 * convolutions do not promote, as PyTorch raises "expected scalar type Float but found Double". One
 * argument per call, not a list of pairs: layers check their weight and bias on every call.
 */
export function checkSameDtype(op: string, input: Tensor, name: string, other: Tensor | null | undefined): void {
  if (other !== null && other !== undefined && other.dtype !== input.dtype) {
    throw new ArgumentError(
      `${op}: ${name} must have the input's dtype, ${input.dtype} (${op} does not promote dtypes, as in PyTorch; convert one with .to("${input.dtype}") or .to("${other.dtype}")), but got ${other.dtype}`,
    );
  }
}
