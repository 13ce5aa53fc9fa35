// Every runtime the library runs in (browsers, their workers, Node, Deno, Bun) has `performance`; the
// library is typed without any runtime's globals.
const performance = (globalThis as unknown as { performance: { readonly timeOrigin: number; now(): number } }).performance;

/**
 * The data-parallel threads' clock, in milliseconds: `performance.timeOrigin + performance.now()`.
 * Within a thread it never goes back: performance.now() is monotonic and the origin is fixed when the
 * thread starts, so a deadline (stepTimeoutMs, close's second) and the gap between two looks (wait.ts's
 * Spin) mean what they say even when the wall clock is set back or forward (an NTP step), which
 * Date.now() follows. Across threads the readings agree, since each origin is the wall clock's time at
 * that thread's start, unless the wall clock was set between two threads' starts: then one thread's
 * readings differ from another's by that step, for good (Spin's shared contended time guards against
 * that; no deadline is ever compared on another thread).
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
