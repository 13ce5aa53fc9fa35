/** A mistake in how the program was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A problem with the user's files or data: printed as is, exit code 1. */
export class InputError extends Error {
  override name = "InputError";
}
