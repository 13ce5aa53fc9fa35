import { afterEach, describe, expect, it, vi } from "vitest";
import { now as clock } from "./clock.js";
import { CONTENDED_GAPS, CONTENDED_HOLD_MS, GAP_MS, Spin, waitWhileEqual } from "./wait.js";

/** Polls `spin` until it says sleep (true) or `most` checks found nothing (false). */
function pollsUntilSleep(spin: Spin, most: number): number {
  spin.begin();
  for (let i = 0; i < most; i++) if (spin.idle()) return i;
  return -1;
}

describe("Spin, a data-parallel thread's wait", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("sleeps at once with polls 0 and after its polls otherwise, and once it says sleep it keeps saying so until the next wait", () => {
    expect(pollsUntilSleep(new Spin(0), 10)).toBe(0);
    const spin = new Spin(100);
    expect(pollsUntilSleep(spin, 1000)).toBe(100);
    expect(spin.idle()).toBe(true);
    expect(pollsUntilSleep(spin, 1000)).toBe(100);
  });

  it("sleeps at the look after a gap in the clock; contended once CONTENDED_GAPS gaps came close together, every thread sharing the word sleeps at its first look", () => {
    let now = 1_000_000;
    vi.spyOn(performance, "now").mockImplementation(() => now);
    const shared = new Float64Array(1);
    const spin = new Spin(1_000_000, shared, 0);
    const other = new Spin(1_000_000, shared, 0);
    // No gap: the clock stands still, the wait polls on.
    expect(pollsUntilSleep(spin, 50_000)).toBe(-1);
    for (let g = 1; g <= CONTENDED_GAPS; g++) {
      spin.begin();
      let checks = 0;
      while (!spin.idle()) {
        // A gap of more than GAP_MS between two looks, after the wait's first look.
        if (++checks === 10_000) now += GAP_MS + 0.5;
      }
      expect(checks).toBeLessThan(20_000);
      expect(spin.gapCount).toBe(g);
      expect(shared[0]! > clock()).toBe(g === CONTENDED_GAPS);
    }
    expect(shared[0]).toBe(clock() + CONTENDED_HOLD_MS);
    const first = pollsUntilSleep(other, 50_000);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(10_000);
    expect(other.contendedWaits).toBe(1);
    // The hold over, the waits poll on again.
    now += CONTENDED_HOLD_MS;
    expect(pollsUntilSleep(other, 50_000)).toBe(-1);
  });

  it("counts an off-core gap of 1.5 ms, not one under 1 ms (gaps over 1 ms, as Date.now()'s 2 ticks counted them before the clock was fractional)", () => {
    let now = 1_000_000;
    vi.spyOn(performance, "now").mockImplementation(() => now);
    /** One wait: 10 looks 0.03 ms apart, then a gap of `gap` ms before the next look; whether it said sleep. */
    const wait = (spin: Spin, gap: number): boolean => {
      spin.begin();
      for (let look = 0; look < 12; look++) {
        for (let i = 0; i < 4096; i++) if (spin.idle()) return true;
        now += look === 10 ? gap : 0.03;
      }
      return false;
    };
    const spin = new Spin(1_000_000);
    expect(wait(spin, 0.5)).toBe(false);
    expect(wait(spin, 0.99)).toBe(false);
    expect(spin.gapCount).toBe(0);
    expect(wait(spin, 1.5)).toBe(true);
    expect(spin.gapCount).toBe(1);
  });

  it("is not fooled by a thread whose clock is behind (the wall clock set back between two threads' starts) or by a clock going back: a contended time further ahead than a hold is not believed, and the step back adds no polling time", () => {
    let now = 1_000_000;
    vi.spyOn(performance, "now").mockImplementation(() => now);
    /** One wait of `looks` looks at the clock, the clock moving `step(look)` ms before each; whether it said sleep. */
    const wait = (spin: Spin, looks: number, step: (look: number) => number): boolean => {
      spin.begin();
      for (let look = 0; look < looks; look++) {
        now += step(look);
        for (let i = 0; i < 4096; i++) if (spin.idle()) return true;
      }
      return false;
    };
    // (a) Contended until now + HOLD, then the clock goes back an hour (as the other thread's, an hour behind,
    // reads it): the other thread's waits (no gaps) poll on, at once and every minute of the hour back; a
    // contention seen after the step still holds.
    const shared = new Float64Array(1);
    const spin = new Spin(1_000_000, shared, 0);
    const other = new Spin(1_000_000, shared, 0);
    for (let g = 0; g < CONTENDED_GAPS; g++) expect(wait(spin, 3, (look) => (look === 2 ? GAP_MS + 0.5 : 0))).toBe(true);
    expect(shared[0]).toBe(clock() + CONTENDED_HOLD_MS);
    now -= 3_600_000;
    for (let minute = 0; minute < 60; minute++) expect(wait(other, 3, (look) => (look === 0 && minute > 0 ? 60_000 : 0))).toBe(false);
    expect(other.contendedWaits).toBe(0);
    for (let g = 0; g < CONTENDED_GAPS; g++) wait(spin, 3, (look) => (look === 2 ? GAP_MS + 0.5 : 0));
    expect(shared[0]).toBe(clock() + CONTENDED_HOLD_MS);
    expect(wait(other, 3, () => 0)).toBe(true);
    expect(other.contendedWaits).toBe(1);

    // (b) One thread: CONTENDED_GAPS - 1 gaps, then 200 ms of quiet polling (1 ms a look), then the clock goes
    // back an hour inside a wait, then ONE gap: CONTENDED_GAPS gaps did not come within CONTENDED_POLLED_MS.
    const own = new Float64Array(1);
    const lone = new Spin(1_000_000, own, 0);
    for (let g = 0; g < CONTENDED_GAPS - 1; g++) expect(wait(lone, 3, (look) => (look === 2 ? GAP_MS + 0.5 : 0))).toBe(true);
    expect(wait(lone, 201, (look) => (look === 0 ? 0 : 1))).toBe(false);
    expect(wait(lone, 4, (look) => [0, -3_600_000, 0, GAP_MS + 1][look]!)).toBe(true);
    expect(lone.gapCount).toBe(CONTENDED_GAPS);
    expect(own[0]).toBe(0);
  });

  it("waitWhileEqual returns once the value changes, and false at the deadline while it does not", () => {
    const control = new Int32Array(new SharedArrayBuffer(4));
    control[0] = 1;
    expect(waitWhileEqual(control, 0, 0, new Spin(10))).toBe(true);
    expect(waitWhileEqual(control, 0, 1, new Spin(10), clock() + 20)).toBe(false);
  });

  it("ends a wait at its deadline whatever the wall clock does: set back an hour at every reading, or forward an hour", () => {
    const control = new Int32Array(new SharedArrayBuffer(4));
    control[0] = 1;
    let wall = Date.now();
    const back = vi.spyOn(Date, "now").mockImplementation(() => (wall -= 3_600_000));
    let start = clock();
    // By the wall clock the deadline would move an hour further away at every look: the wait would never end.
    expect(waitWhileEqual(control, 0, 1, new Spin(10), start + 30)).toBe(false);
    expect(clock() - start).toBeGreaterThanOrEqual(30);
    expect(clock() - start).toBeLessThan(1000);
    back.mockImplementation(() => (wall += 3_600_000));
    start = clock();
    // By the wall clock the deadline would have passed at the first look.
    expect(waitWhileEqual(control, 0, 1, new Spin(10), start + 30)).toBe(false);
    expect(clock() - start).toBeGreaterThanOrEqual(30);
  });
});
