/**
 * How often a thread checks for its signal before sleeping in Atomics.wait, unless DataParallel's `polls`
 * option says otherwise: about 2 ms at the ~20 ns a check takes on this project's machine. Between two
 * steps a replica waits for the calling thread's optimizer step and next batch (0.5-0.8 ms on the
 * reference network), and a replica woken from Atomics.wait there started its shard 1.1 ms late on a busy
 * 2-core machine: with 20,000 polls (0.4 ms) 2 replicas trained 10,200 img/s, with 200,000 15,600.
 */
export const DEFAULT_POLLS = 100_000;

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
