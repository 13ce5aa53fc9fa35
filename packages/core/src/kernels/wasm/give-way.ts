// How a pool thread polls before it sleeps where it may share its core (the Web Workers' pool,
// threads-web.ts): it polls the pool's whole budget while it keeps its core, and gives way (polls only a few
// times, then sleeps in Atomics.wait) while it loses much of its polling time to other threads. A thread
// cannot see the other threads on its core; it sees the pauses between two of its own looks at the clock.
// The calling thread runs GiveWaySpin; a worker runs the same steps from GIVE_WAY_SOURCE (its text is part
// of the worker's source), and the tests drive both through the same cases.

/** When a polling thread gives way; see GiveWaySpin. */
export interface GiveWay {
  /** A pause of more than this between two looks at the clock (64 polls apart, about 1 us) is time off the core (ms). */
  pauseMs: number;
  /** Polling time (the looks' intervals added up, pauses included) over which the time off the core is weighed (ms). */
  windowMs: number;
  /** The share of a window off the core from which the thread gives way. */
  lostShare: number;
  /** How long it first gives way (ms); each time it must give way again, twice as long, up to maxGiveWayMs. */
  giveWayMs: number;
  maxGiveWayMs: number;
  /**
   * Polling this long since it last gave way (ms; the looks' intervals added up as for windowMs, not the time
   * between waits) brings the next give-way back to giveWayMs.
   */
  resetMs: number;
  /** Polls of a wait while it gives way. */
  politePolls: number;
  /**
   * The longest the calling thread polls in one wait (ms; workers poll their whole budget): it waits for
   * jobs under way, which take well under a millisecond unless their worker is off its core.
   */
  callerPollMs: number;
}

/** Polls between two looks at the clock, less one (a mask). */
const LOOK_MASK = 63;

/**
 * One thread's polls before it sleeps: `poll(ctl, slot, value, polls)` polls until ctl[slot] is no longer
 * `value` (true) or the thread should sleep (false). It polls up to `polls` times and callerPollMs, looking at
 * `now` every 64 polls.
 * Pauses between looks longer than pauseMs count as time off the core; once a window of windowMs of polling
 * has more than lostShare of it off the core, the wait ends (sleep) and the thread gives way for giveWayMs:
 * its waits poll politePolls times, no clock, then sleep. A thread that polls while another needs its core
 * takes that thread's turns, and on a 2-core machine beside one busy process the scheduler keeps the
 * training's two threads on one core (it balances the processes' weights, not the threads).
 */
export class GiveWaySpin {
  private until = -Infinity;
  private span: number;
  /** Polling time since the last give-way. */
  private calm = 0;
  private polled = 0;
  private lost = 0;
  /** Times this thread gave way (for tests). */
  gaveWay = 0;

  constructor(
    private readonly config: GiveWay,
    private readonly now: () => number,
  ) {
    this.span = config.giveWayMs;
  }

  poll(ctl: Int32Array, slot: number, value: number, polls: number): boolean {
    const c = this.config;
    const start = this.now();
    if (start < this.until) {
      for (let i = 0; i < c.politePolls; i++) if (Atomics.load(ctl, slot) !== value) return true;
      return false;
    }
    let last = start;
    for (let i = 0; i < polls; i++) {
      const changed = Atomics.load(ctl, slot) !== value;
      if (!changed && (i & LOOK_MASK) !== LOOK_MASK) continue;
      const now = this.now();
      const pause = now - last;
      last = now;
      this.polled += pause;
      this.calm += pause;
      if (pause > c.pauseMs) this.lost += pause;
      if (this.polled >= c.windowMs) {
        const share = this.lost / this.polled;
        this.polled = 0;
        this.lost = 0;
        if (share > c.lostShare) {
          if (this.calm > c.resetMs) this.span = c.giveWayMs;
          this.calm = 0;
          this.until = now + this.span;
          this.span = Math.min(c.maxGiveWayMs, this.span * 2);
          this.gaveWay++;
          return changed;
        }
      }
      if (changed || now - start > c.callerPollMs) return changed;
    }
    return false;
  }
}

/**
 * GiveWaySpin's steps as JavaScript text for a worker's source: an expression, a function of (config, polls,
 * now) returning poll(ctl, slot, value) (its polls fixed), with the same state and the same steps but for
 * callerPollMs (a worker polls its whole budget).
 */
export const GIVE_WAY_SOURCE = `((config, polls, now) => {
  let until = -Infinity;
  let span = config.giveWayMs;
  let calm = 0;
  let polled = 0;
  let lost = 0;
  return (ctl, slot, value) => {
    const start = now();
    if (start < until) {
      for (let i = 0; i < config.politePolls; i++) if (Atomics.load(ctl, slot) !== value) return true;
      return false;
    }
    let last = start;
    for (let i = 0; i < polls; i++) {
      const changed = Atomics.load(ctl, slot) !== value;
      if (!changed && (i & ${LOOK_MASK}) !== ${LOOK_MASK}) continue;
      const t = now();
      const pause = t - last;
      last = t;
      polled += pause;
      calm += pause;
      if (pause > config.pauseMs) lost += pause;
      if (polled >= config.windowMs) {
        const share = lost / polled;
        polled = 0;
        lost = 0;
        if (share > config.lostShare) {
          if (calm > config.resetMs) span = config.giveWayMs;
          calm = 0;
          until = t + span;
          span = Math.min(config.maxGiveWayMs, span * 2);
          return changed;
        }
      }
      if (changed) return true;
    }
    return false;
  };
})`;
