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

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/**
 * A backward pass ended with more than `budget` bytes of tensors resident in the threads' shared memory
 * still taken (regions pile up between steps because nothing gives them back), so new tensors are ordinary
 * arrays that the kernels copy in and out until regions come back.
 */
export function warnResidentPiledUp(budget: number): void {
  const reason = `the tensors in the threads' shared memory still held more than ${sizeText(budget)} at the end of a backward pass`;
  warnOnce(
    "resident-storage",
    reason,
    `Pico: ${reason} (tensors not given back pile up from step to step), so new tensors are ordinary arrays ` +
      "that the kernels copy in and out (slower) until some come back. A tensor's memory comes back when the " +
      "engine recycles it (a Sequential's intermediates, @pico/nn's built-in models' and backward's own arrays) " +
      "or once the garbage collector has collected the tensor, which in a training loop over a custom forward " +
      "can take thousands of steps (the shared memory is no pressure on the JavaScript heap). Build the model " +
      "from Sequential and modules that declare keepsNoReferences, and drop references to a step's tensors " +
      "(outputs kept in a list, a graph kept with retainGraph) before the next.",
  );
}

/**
 * The tensors resident in the threads' shared memory cannot take more of it: their regions would span more
 * than `limit` bytes, or (null) the memory cannot grow. New tensors are then ordinary arrays until regions
 * come back. `stepsMarked`: a backward pass has ended since the threads started, without regions piling
 * up, so the cause is one step's need; otherwise tensors nobody gives back may also have piled up with no
 * backward pass to tell.
 */
export function warnResidentLiveLimit(limit: number | null, stepsMarked: boolean): void {
  const reason =
    limit === null
      ? "the threads' shared memory cannot grow to hold the tensors live at once"
      : `the tensors live at once would span more than the ${sizeText(limit)} the threads' shared memory keeps for them`;
  const cause = stepsMarked
    ? "A large batch or model needs that much within one step (backward passes end with the regions given back, so " +
      "nothing piles up); a smaller batch, or one split over several steps, keeps the tensors resident."
    : "A large batch or model needs that much within one step (a smaller batch keeps the tensors resident), or, " +
      "with no backward pass ending the steps (an inference loop), tensors nobody gives back pile up: build the " +
      "model from Sequential and modules that declare keepsNoReferences.";
  warnOnce(
    "resident-storage",
    `${reason}${stepsMarked ? " within one step" : ""}`,
    `Pico: ${reason}${stepsMarked ? " within one step" : ""}, so new tensors are ordinary arrays that the kernels ` +
      `copy in and out (slower) until some come back. ${cause}`,
  );
}
