import { ArgumentError } from "@pico/core";

/** A number-or-pair argument (kernel size, stride, padding, dilation) as [height, width]. */
export type IntPair = number | readonly [number, number];

/**
 * Normalises `value` to [height, width], checking both are integers >= `min`.
 * `op` and `name` make the error say which operator and argument broke the rule.
 */
export function pair(op: string, name: string, value: IntPair, min: number): [number, number] {
  checkPair(op, name, value, min);
  return [pairPart(value, 0), pairPart(value, 1)];
}

/** pair's checks without building the pair (convolution and pooling check their arguments on every call). */
export function checkPair(op: string, name: string, value: IntPair, min: number): void {
  // Checked without building [value, value] or a closure.
  const h: unknown = Array.isArray(value) ? value[0] : value;
  const w: unknown = Array.isArray(value) ? value[1] : value;
  const shapeOk = Array.isArray(value) ? value.length === 2 : typeof value === "number";
  if (!shapeOk || !isIntAtLeast(h, min) || !isIntAtLeast(w, min)) {
    const rule = min === 0 ? "a non-negative integer" : `an integer >= ${min}`;
    throw new ArgumentError(`${op}: ${name} must be ${rule} or a pair [height, width] of them, but got ${show(value)}`);
  }
}

/** The height (axis 0) or width (axis 1) of a number-or-pair argument that checkPair accepted. */
export function pairPart(value: IntPair, axis: 0 | 1): number {
  return typeof value === "number" ? value : value[axis];
}

function isIntAtLeast(v: unknown, min: number): boolean {
  return Number.isInteger(v) && (v as number) >= min;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => show(v)).join(", ")}]`;
  return typeof value === "number" ? String(value) : `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}
