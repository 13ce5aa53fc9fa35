import { ArgumentError, Tensor, formatShape } from "@pico/core";

/** Renders a received value for an error message. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return value.length > 8 ? `an array of ${value.length} items` : `[${value.map(show).join(", ")}]`;
  if (typeof value === "function") return `a function ${value.name}`.trimEnd();
  if (value === null || typeof value !== "object") return String(value);
  if (value instanceof Tensor) return `a Tensor of shape ${formatShape(value.shape)}`;
  const kind = (value as { constructor?: { name?: string } }).constructor?.name;
  if (kind !== undefined && kind !== "Object") return `a ${kind}`;
  return `an object with keys ${Object.keys(value).join(", ") || "(none)"}`;
}

/** Throws `owner: arg must be rule, but got value` unless `ok`. */
export function check(ok: boolean, owner: string, arg: string, rule: string, value: unknown): void {
  if (!ok) throw new ArgumentError(`${owner}: ${arg} must be ${rule}, but got ${show(value)}`);
}

export function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

export function checkPositive(owner: string, arg: string, value: unknown): void {
  check(isFiniteNumber(value) && value > 0, owner, arg, "a finite number > 0", value);
}

export function checkNonNegative(owner: string, arg: string, value: unknown): void {
  check(isFiniteNumber(value) && value >= 0, owner, arg, "a finite number >= 0", value);
}

export function checkPositiveInteger(owner: string, arg: string, value: unknown): void {
  check(Number.isInteger(value) && (value as number) > 0, owner, arg, "an integer > 0", value);
}

export function checkBoolean(owner: string, arg: string, value: unknown): void {
  check(typeof value === "boolean", owner, arg, "true or false", value);
}

/** Rejects options that the owner does not know (typos like `weight_decay` would otherwise be ignored). */
export function checkKnownKeys(owner: string, where: string, given: object, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      throw new ArgumentError(`${owner}: ${where}unknown option ${JSON.stringify(key)}; the options are ${known.join(", ")}`);
    }
  }
}

/** Merges `options` over `template` after rejecting keys the template does not have. */
export function withDefaults<O>(owner: string, template: Record<string, unknown>, options: object): O {
  if (options === null || typeof options !== "object") {
    throw new ArgumentError(`${owner}: options must be an object like { lr: 0.01 }, but got ${show(options)}`);
  }
  checkKnownKeys(owner, "", options, Object.keys(template));
  const merged: Record<string, unknown> = { ...template };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as O;
}
