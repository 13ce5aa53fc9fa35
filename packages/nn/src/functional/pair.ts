import { ArgumentError } from "@pico/core";

/** A number-or-pair argument (kernel size, stride, padding, dilation) as [height, width]. */
export type IntPair = number | readonly [number, number];

/**
 * Normalises `value` to [height, width], checking both are integers >= `min`.
 * `op` and `name` make the error say which operator and argument broke the rule.
 */
export function pair(op: string, name: string, value: IntPair, min: number): [number, number] {
  const isPair = Array.isArray(value) && value.length === 2;
  const values = (isPair ? value : [value, value]) as readonly unknown[];
  const ok = (Array.isArray(value) ? isPair : typeof value === "number") && values.every((v) => Number.isInteger(v) && (v as number) >= min);
  if (!ok) {
    const rule = min === 0 ? "a non-negative integer" : `an integer >= ${min}`;
    throw new ArgumentError(`${op}: ${name} must be ${rule} or a pair [height, width] of them, but got ${show(value)}`);
  }
  return [values[0] as number, values[1] as number];
}

function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => show(v)).join(", ")}]`;
  return typeof value === "number" ? String(value) : `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}
