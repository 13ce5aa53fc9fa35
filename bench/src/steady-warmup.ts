/**
 * When a warm-up may stop: a fresh process keeps getting faster while its JIT compiles, for longer on some
 * systems and thread counts than on others (cli-options.ts has the figures behind the defaults), so a fixed
 * number of warm-up steps times one system in its steady state and another still warming up. Every system
 * therefore warms up by the same rule: at least the minimum, then windows of the timed length until the
 * step time stops falling, up to a cap.
 */

/** A window must be this much faster than the fastest before it to count as still warming up. */
export const STEADY_GAIN = 0.03;

/**
 * Whether the step time is steady, from the seconds of equal warm-up windows in order: at least three
 * windows, and neither of the last two more than STEADY_GAIN faster than the fastest window before them
 * (two, so that one window slowed by another process does not end the warm-up).
 */
export function isSteady(windowSeconds: readonly number[]): boolean {
  const m = windowSeconds.length;
  if (m < 3) return false;
  const best = Math.min(...windowSeconds.slice(0, m - 2));
  const last = Math.min(windowSeconds[m - 2]!, windowSeconds[m - 1]!);
  return last >= (1 - STEADY_GAIN) * best;
}
