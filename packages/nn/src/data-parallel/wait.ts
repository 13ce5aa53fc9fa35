/**
 * Polls before sleeping in Atomics.wait: a replica usually finishes within a few microseconds of the
 * calling thread, and waking a sleeping thread costs tens of microseconds.
 */
const POLLS = 4000;

/**
 * Waits while `control[index]` equals `value`; returns false when `deadline` (a `Date.now()` time) passed first.
 * Blocks the thread: allowed in Node and in Web Workers, not on a page's main thread.
 */
export function waitWhileEqual(control: Int32Array, index: number, value: number, deadline = Infinity): boolean {
  for (let i = 0; i < POLLS; i++) if (Atomics.load(control, index) !== value) return true;
  while (Atomics.load(control, index) === value) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(control, index, value, Math.min(left, 1000));
  }
  return true;
}
