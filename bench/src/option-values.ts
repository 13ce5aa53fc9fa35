/** A command-line value that breaks its option's rule: the bench prints the message alone, no stack trace. */
export class OptionError extends Error {}

/** `--name`'s value as an integer >= min; else an OptionError naming `owner` (bench, worker), the option and the value. */
export function integerOption(owner: string, name: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) throw new OptionError(`${owner}: --${name} must be an integer >= ${min}, but got "${value}"`);
  return n;
}

/** `--name`'s value as a positive (or, `zero`, non-negative), finite number of seconds; else an OptionError naming `owner`, the option and the value. */
export function secondsOption(owner: string, name: string, value: string, zero = false): number {
  const s = Number(value);
  if (value.trim() === "" || !(zero ? s >= 0 : s > 0) || !Number.isFinite(s)) {
    throw new OptionError(`${owner}: --${name} must be a ${zero ? "non-negative" : "positive"} number of seconds, but got "${value}"`);
  }
  return s;
}
