/**
 * How often a thread checks for its signal before sleeping in Atomics.wait, unless DataParallel's `polls`
 * option says otherwise: 7-13 ms on this project's 2-core machine once the loop is optimized (7-13 ns a
 * check; 100,000 checks lasted only 0.75-1.3 ms). A thread that sleeps can cost far more than its
 * wake-up. Measured on the reference network (2 replicas, instrumented steps, this 2-vCPU virtual
 * machine): a step whose replica had slept between steps took 6.1-7.1 ms instead of 2.9-3.1: the calling
 * thread's signal (Atomics.notify) returned 2.5-3.5 ms late and the replica's backward took 4.9 ms
 * instead of 1.6, as if both threads shared one core for a while; runs alternated between stretches of
 * 3 ms and of 6-7 ms steps. With 1,000,000 checks the steps stayed at 3.0-3.2 ms. (A two-thread
 * micro-benchmark of sleep, notify and 5 ms of work each did not reproduce it, so the cause is not
 * pinned down.) The price is a core kept busy for up to this long after the last step.
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
