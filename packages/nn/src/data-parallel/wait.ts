/**
 * How often a thread checks for its signal before sleeping in Atomics.wait, unless DataParallel's `polls`
 * option says otherwise: 7-13 ms on this project's 2-core machine once the loop is optimized (7-13 ns a
 * check; 100,000 checks lasted only 0.75-1.3 ms). A thread that sleeps pays more than the wake-up: the
 * kernel wakes it on the core of the thread that signalled, where the two share one core for a few ms
 * while the other core idles. Measured on the reference network (2 replicas, instrumented steps): a step
 * whose replica had slept between steps took 6.1-7.1 ms instead of 2.9-3.1 (the calling thread's
 * Atomics.notify returned 2.5-3.5 ms late and both shards' passes ran slower), and once one step was
 * late the next waits outlasted 100,000 checks too, so whole runs alternated between 3 ms and 6-7 ms
 * steps; with 1,000,000 checks the steps stayed at 3.0-3.2 ms. The price is a core kept busy for up to
 * this long after the last step.
 */
export const DEFAULT_POLLS = 1_000_000;

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
