import { now as clock } from "./clock.js";

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
 * pinned down.) The price is a core kept busy for up to this long after the last step, and a core taken
 * from the thread waited for when the machine has more runnable threads than cores: see Spin.
 */
export const DEFAULT_POLLS = 1_000_000;

/**
 * Checks between two looks at the clock (20-40 us of polling): a look allocates (every clock's reading
 * is a new heap number, 16 bytes), so a wait shorter than this reads no clock at all, and a long one
 * allocates about 0.5 KB a millisecond.
 */
const CHECKS_PER_LOOK = 4096;

/**
 * Two looks at the clock (clock.ts) more than this many milliseconds apart say the thread was off its
 * core in between (another thread ran there): they are 20-40 us apart otherwise. On this project's 2-core machine a polling thread saw 4-5 gaps over 1 ms a second on a
 * quiet machine, and 60-80 beside one busy process of the same niceness (2-5 ms each). (Measured with
 * Date.now()'s whole milliseconds, where 2 ticks apart meant a gap of more than 1 ms.)
 */
export const GAP_MS = 1;

/**
 * Gaps within CONTENDED_POLLED_MS of polling (the time the thread spent polling with its clock looks,
 * not wall time: a gap can only be seen while polling) that make a thread contended (see Spin).
 */
export const CONTENDED_GAPS = 5;
export const CONTENDED_POLLED_MS = 100;
/** How long a thread stays contended after its last counted gap (ms). */
export const CONTENDED_HOLD_MS = 2000;

/**
 * One thread's waits for the others (the data-parallel threads poll shared memory for each other's
 * progress): how long to poll before sleeping in Atomics.wait. Polling keeps the thread's core, which
 * is right while every thread has a core of its own (a sleeping thread's wake-up cost up to 3 ms on this
 * project's machine, see DEFAULT_POLLS), and wrong once the machine has more runnable threads than
 * cores: the poller then holds a core that the thread it waits for needs. Beside one busy process of
 * the same niceness the reference network's data-parallel steps took 10-11 ms with 1,000,000 polls and
 * 7.4-7.6 ms with 2,000, against 6 ms on one thread.
 *
 * So a wait polls up to `polls` checks, looking at the clock every CHECKS_PER_LOOK: a gap of more than
 * GAP_MS says the thread lost its core in between, and the wait sleeps at once. But a gap alone is no
 * reason to poll less: beside a busy process of lower priority (the bench's workers at niceness -20)
 * each thread still lost its core now and then (0.006-0.014 gaps per ms of polling), and polling was
 * far better than sleeping there (14,400-14,800 img/s with 1,000,000 polls, 8,500-11,400 with 20,000 or
 * 60,000: every sleep let the other process in). Beside one of the same niceness the gaps came 3-5
 * times as often (0.037-0.057 per ms). So CONTENDED_GAPS gaps within CONTENDED_POLLED_MS of polling make
 * the threads contended for CONTENDED_HOLD_MS (a time all of a DataParallel's threads share: the thread
 * waited for is often not the one that sees the gaps): while contended, a wait sleeps at its first
 * look. Measured (reference network, Adam, 300 steps after 300, alternating builds): beside one busy
 * process of the same niceness 6,800-8,200 img/s against 6,200-6,900 polling 1,000,000 (2,000 polls:
 * 8,400-9,200); beside one of lower priority 14,400-14,800 against 14,300-14,700; beside two busy
 * processes at niceness -20 5,500-6,000 against 2,800-3,000, and with 1.1-1.5 cores of other work
 * 4,400-6,000 against 1,450-3,000.
 *
 * Usage: `begin()` when a wait starts, then `idle()` after every check that found nothing; once idle()
 * returns true it returns true until the next begin(): sleep (with a timeout where a wake-up may be
 * missed) and check again.
 */
export class Spin {
  /** Checks left before this wait sleeps. */
  private left = 0;
  /** Checks since the last look at the clock. */
  private checks = 0;
  /** Whether this wait has looked at the clock yet. */
  private looked = false;
  /** The clock at the last look. */
  private last = 0;
  /** Milliseconds this thread has polled between looks at the clock (gaps included), over all its waits. */
  private polled = 0;
  /** `polled` at the last CONTENDED_GAPS gaps, a ring; `oldest` indexes the oldest. */
  private readonly gaps = new Float64Array(CONTENDED_GAPS).fill(-Infinity);
  private oldest = 0;
  /** Gaps seen, and waits that slept at their first look as the thread was contended (for tests and traces). */
  gapCount = 0;
  contendedWaits = 0;

  /**
   * `polls`: the most checks a wait makes before it sleeps (0: sleep at once). `shared[at]`: until when
   * (clock.ts) the threads are contended, which every thread of a DataParallel reads and extends (a
   * Float64Array over shared memory; a torn read only misjudges one wait). The clock never goes back
   * within a thread, but two threads' readings differ for good when the wall clock was set between their
   * starts (see clock.ts): a time more than CONTENDED_HOLD_MS ahead, written by a thread whose clock is
   * ahead of this one's, is not believed, and a look earlier than the last (which the clock never gives)
   * would add no polling time.
   */
  constructor(
    readonly polls: number,
    private readonly shared: Float64Array = new Float64Array(1),
    private readonly at = 0,
  ) {}

  /** A wait starts. */
  begin(): void {
    this.left = this.polls;
    this.checks = 0;
    this.looked = false;
  }

  /** A check found nothing: whether the thread should sleep now (it should for the rest of the wait, once true). */
  idle(): boolean {
    if (this.left <= 0) return true;
    this.left--;
    if (++this.checks < CHECKS_PER_LOOK) return false;
    this.checks = 0;
    const now = clock();
    if (!this.looked) {
      this.looked = true;
      this.last = now;
      const until = this.shared[this.at]!;
      // Further ahead than a hold: written by a thread whose clock is ahead of this one's, so not a contention now.
      if (now >= until || until - now > CONTENDED_HOLD_MS) return false;
      this.contendedWaits++;
      this.left = 0;
      return true;
    }
    const gap = now - this.last;
    this.last = now;
    // A clock that went back (none does, see clock.ts): no time to count.
    if (gap < 0) return false;
    this.polled += gap;
    if (gap <= GAP_MS) return false;
    this.gapCount++;
    const gaps = this.gaps;
    gaps[this.oldest] = this.polled;
    this.oldest = (this.oldest + 1) % gaps.length;
    // The oldest of the last CONTENDED_GAPS gaps, this one included.
    if (this.polled - gaps[this.oldest]! <= CONTENDED_POLLED_MS) {
      const until = this.shared[this.at]!;
      if (until < now + CONTENDED_HOLD_MS || until - now > CONTENDED_HOLD_MS) this.shared[this.at] = now + CONTENDED_HOLD_MS;
    }
    this.left = 0;
    return true;
  }
}

/**
 * Waits while `control[index]` equals `value`, polling as `spin` says before sleeping; returns false when
 * `deadline` (a clock.ts time) passed first. Blocks the thread: allowed in Node and in Web Workers,
 * not on a page's main thread.
 */
export function waitWhileEqual(control: Int32Array, index: number, value: number, spin: Spin, deadline = Infinity): boolean {
  spin.begin();
  while (Atomics.load(control, index) === value) {
    if (!spin.idle()) continue;
    const left = deadline - clock();
    if (left <= 0) return false;
    Atomics.wait(control, index, value, Math.min(left, 1000));
  }
  return true;
}
