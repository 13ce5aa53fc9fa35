/**
 * How often a thread checks for its signal before sleeping in Atomics.wait, unless DataParallel's
 * `polls` option says otherwise: waking a sleeping thread costs tens of microseconds (more on a busy
 * machine), and between two steps a replica waits for the calling thread's optimizer step (a few
 * hundred microseconds on the reference network). As @pico/core's kernel threads in Node.
 */
export const DEFAULT_POLLS = 20_000;

/**
 * Waits while `control[index]` equals `value`, polling `polls` times before sleeping; returns false when
 * `deadline` (a `Date.now()` time) passed first. Blocks the thread: allowed in Node and in Web Workers,
 * not on a page's main thread.
 */
export function waitWhileEqual(control: Int32Array, index: number, value: number, polls: number, deadline = Infinity): boolean {
  for (let i = 0; i < polls; i++) if (Atomics.load(control, index) !== value) return true;
  while (Atomics.load(control, index) === value) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(control, index, value, Math.min(left, 1000));
  }
  return true;
}
