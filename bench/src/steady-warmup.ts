/**
 * When a warm-up may stop: a fresh process keeps getting faster while its JIT compiles, for longer on some
 * systems and thread counts than on others (cli-options.ts has the figures behind the defaults), so a fixed
 * number of warm-up steps times one system in its steady state and another still warming up. Every system
 * therefore warms up by the same rule: at least the minimum, then windows of the timed length until the
 * step time stops falling and the run has taken the settle steps, up to a cap of steps and of seconds.
 *
 * Why a settle floor besides the windows' rule: V8 optimizes a function once its own bytecode budget runs
 * out, so functions a step calls a few times tier up hundreds to thousands of steps after the hot loops do.
 * Counted with node --trace-opt on the reference network (LeNet, batch 64, Adam; session 20, per 100
 * steps, TurboFan compiles of 6-9 ms each on a helper thread): one thread 34, 23, 11, 10, 8, 9 over steps
 * 100-700, then 2-5 to step 1,500 and 0-4 to 3,000; two replicas (dp2, each isolate compiles the same
 * functions) 78, 50, 26, 20, 23, 20 over 100-700, 6-11 to 1,500, 1-9 (mean 3.5) to 3,000, 2.3 to 4,000,
 * 1.2 to 5,000, 0.2 to 6,000. The 3% rule stopped at 700-1,400 steps: with 100-step windows (0.3-0.5 s
 * on a machine that drifts by tenths of a second) it cannot see what a few compiles cost, but on two busy
 * threads each compile takes a core from one of them, while one thread leaves them the idle second
 * core: stopping early biases every 2-thread figure down (a dp2 probe: 300 warm-up steps, 14-19% of its
 * steps over 1.5x the median; 3,000, 8%). So the reference network's runs take at least 3,000 steps
 * (at most 4,000, or 20 s of windows for every system alike), where the compiles are down to a few a
 * window. The CIFAR-shaped network's steps (0.1-0.3 s) dwarf one compile, but not the hundreds its larger
 * step makes: on 2 threads 100-170 ms of TurboFan per 16 steps up to step 80 and 30-150 ms up to step 240
 * (session 22), so its runs go on to 200 steps unless 20 s of windows end them first (as above; Pico's
 * 2 threads reach 200, slower runs stop at the 20 s).
 */

/**
 * Whether the warm-up may stop after `steps` steps whose windows took `windowSeconds`: the step time is
 * steady (isSteady) and at least `settleSteps` steps have run.
 */
export function warmupDone(steps: number, settleSteps: number, windowSeconds: readonly number[]): boolean {
  return steps >= settleSteps && isSteady(windowSeconds);
}

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
