import { ArgumentError } from "@pico/core";

/** A number-or-pair argument (kernel size, stride, padding, dilation) as [height, width]. */
export type IntPair = number | readonly [number, number];

/**
 * Normalises `value` to [height, width], checking both are integers >= `min`.
 * `op` and `name` make the error say which operator and argument broke the rule.
 */
export function pair(op: string, name: string, value: IntPair, min: number): [number, number] {
  // Checked without building [value, value] or a closure: convolution and pooling normalise their arguments on every call.
  const h: unknown = Array.isArray(value) ? value[0] : value;
  const w: unknown = Array.isArray(value) ? value[1] : value;
  const shapeOk = Array.isArray(value) ? value.length === 2 : typeof value === "number";
  if (!shapeOk || !isIntAtLeast(h, min) || !isIntAtLeast(w, min)) {
    const rule = min === 0 ? "a non-negative integer" : `an integer >= ${min}`;
    throw new ArgumentError(`${op}: ${name} must be ${rule} or a pair [height, width] of them, but got ${show(value)}`);
  }
  return [h as number, w as number];
}

function isIntAtLeast(v: unknown, min: number): boolean {
  return Number.isInteger(v) && (v as number) >= min;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => show(v)).join(", ")}]`;
  return typeof value === "number" ? String(value) : `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}
