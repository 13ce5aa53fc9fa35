// The warnings a user gets, once per reason, when a fast path of the kernels was expected and cannot
// run: they say what is lost and how to get it back. kernelInfo() reports what runs; these say why
// something faster does not.

/**
 * The fast paths that can be missing: WebAssembly SIMD kernels, relaxed SIMD (fused multiply-add), threads,
 * tensors resident in the threads' shared memory (read and written in place by the kernels).
 */
export type FastPath = "wasm-simd" | "relaxed-simd" | "threads" | "resident-storage";

export interface FastPathWarning {
  readonly fastPath: FastPath;
  /** Why it is unavailable; a warning is given once per fast path and reason. */
  readonly reason: string;
  /** The whole text: what is lost, why, and how to get it. */
  readonly message: string;
}

export type FastPathWarningHandler = (warning: FastPathWarning) => void;

interface Console {
  warn(message: string): void;
}
const printWarning: FastPathWarningHandler = (warning) => (globalThis as { console?: Console }).console?.warn(warning.message);

let handler: FastPathWarningHandler = printWarning;
const given = new Set<string>();

/**
 * Sends the fast-path warnings to `receive` from now on instead of console.warn (null: console.warn
 * again), e.g. to show them in a page or a log, or `() => {}` to silence them. Each is still given
 * once per reason.
 */
export function onFastPathWarning(receive: FastPathWarningHandler | null): void {
  handler = receive ?? printWarning;
}

function warnOnce(fastPath: FastPath, reason: string, message: string): void {
  const key = `${fastPath}\n${reason}`;
  if (given.has(key)) return;
  given.add(key);
  handler({ fastPath, reason, message });
}

/** The WebAssembly kernel module could not be compiled or instantiated: everything runs in TypeScript. */
export function warnNoWasmSimd(reason: string): void {
  warnOnce(
    "wasm-simd",
    reason,
    `Pico: the WebAssembly SIMD kernels cannot run here (${reason}), so convolutions, matrix products and ` +
      "the other kernels run in TypeScript, about 8x slower. WebAssembly SIMD is in Node >= 16.4, Chrome and " +
      "Edge >= 91, Firefox >= 89 and Safari >= 16.4; a page's Content-Security-Policy must allow " +
      "'wasm-unsafe-eval'. useKernels(\"js\") chooses the TypeScript kernels on purpose and silences this.",
  );
}

/** The kernels run the plain SIMD build: no fused multiply-add. `remedy` says how to get it here. */
export function warnNoRelaxedSimd(reason: string, remedy: string): void {
  warnOnce(
    "relaxed-simd",
    reason,
    `Pico: ${reason}, so the kernels multiply and add in two instructions instead of one fused multiply-add ` +
      `(matrix products and convolutions about a fifth slower). ${remedy}`,
  );
}

/** Threads were asked for and the kernels stay on the calling thread. `remedy` says how to get them. */
export function warnNoThreads(asked: number, reason: string, remedy: string): void {
  warnOnce(
    "threads",
    reason,
    `Pico: ${asked} threads were asked for, but the kernels run on the calling thread alone, one core doing ` +
      `the work of ${asked}: ${reason}. ${remedy}`,
  );
}

/**
 * The tensors resident in the threads' shared memory hold `budget` bytes not yet given back, so new
 * tensors are ordinary arrays that the kernels copy in and out until regions come back.
 */
export function warnResidentBudgetSpent(budget: number): void {
  const mib = Math.round(budget / (1024 * 1024));
  warnOnce(
    "resident-storage",
    `the tensors in the threads' shared memory hold ${mib} MiB not given back`,
    `Pico: the tensors in the threads' shared memory hold ${mib} MiB not given back, so new tensors are ordinary ` +
      "arrays that the kernels copy in and out (slower) until some come back. A tensor's memory comes back when " +
      "the engine recycles it (a Sequential's intermediates, @pico/nn's built-in models' and backward's own " +
      "arrays) or once the garbage collector has collected the tensor, which in a training loop over a custom " +
      "forward can take thousands of steps (the shared memory is no pressure on the JavaScript heap). Build the " +
      "model from Sequential and modules that declare keepsNoReferences to keep tensors in the shared memory.",
  );
}
