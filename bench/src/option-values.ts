/** A command-line value that breaks its option's rule: the bench prints the message alone, no stack trace. */
export class OptionError extends Error {}

/** `--name`'s value as an integer >= min; else an OptionError naming `owner` (bench, worker), the option and the value. */
export function integerOption(owner: string, name: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) throw new OptionError(`${owner}: --${name} must be an integer >= ${min}, but got "${value}"`);
  return n;
}

/** `--name`'s value as a positive, finite number of seconds; else an OptionError naming `owner`, the option and the value. */
export function secondsOption(owner: string, name: string, value: string): number {
  const s = Number(value);
  if (value.trim() === "" || !(s > 0) || !Number.isFinite(s)) throw new OptionError(`${owner}: --${name} must be a positive number of seconds, but got "${value}"`);
  return s;
}
