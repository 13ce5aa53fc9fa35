import { describe, expect, it } from "vitest";
import { GIVE_WAY_SOURCE, type GiveWay, GiveWaySpin } from "./give-way.js";

const CONFIG: GiveWay = { pauseMs: 0.25, windowMs: 100, lostShare: 0.3, giveWayMs: 100, maxGiveWayMs: 300, resetMs: 500, politePolls: 200, callerPollMs: Infinity };
/** 100 looks at the clock a wait (a look every 64 polls). */
const POLLS = 6400;

/** A clock that moves `step` ms at every reading, and counts them. */
class Clock {
  t = 0;
  step = 0.1;
  reads = 0;
  /** Called at each reading (after it), e.g. to change the slot waited on. */
  onRead: (() => void) | null = null;
  readonly now = (): number => {
    const t = this.t;
    this.t += this.step;
    this.reads++;
    this.onRead?.();
    return t;
  };
}

type Poll = (ctl: Int32Array, slot: number, value: number) => boolean;

const IMPLEMENTATIONS: [string, (config: GiveWay, clock: Clock) => Poll][] = [
  [
    "GiveWaySpin (the calling thread)",
    (config, clock) => {
      const spin = new GiveWaySpin(config, clock.now);
      return (ctl, slot, value) => spin.poll(ctl, slot, value, POLLS);
    },
  ],
  ["GIVE_WAY_SOURCE (a worker)", (config, clock) => (new Function(`return ${GIVE_WAY_SOURCE}`)() as (c: GiveWay, p: number, n: () => number) => Poll)(config, POLLS, clock.now)],
];

/** Clock readings of one wait on a slot that does not change, and its result. */
function wait(poll: Poll, clock: Clock): { result: boolean; reads: number } {
  const before = clock.reads;
  const result = poll(new Int32Array(1), 0, 0);
  return { result, reads: clock.reads - before };
}

const SPUN = { result: false, reads: 101 };
const POLITE = { result: false, reads: 1 };

describe.each(IMPLEMENTATIONS)("%s", (_name, make) => {
  it("polls its whole budget while pauses stay short, and returns once the slot changes", () => {
    const clock = new Clock();
    const poll = make(CONFIG, clock);
    clock.step = 0.2; // under pauseMs: 20 ms a wait, 10 windows
    for (let w = 0; w < 50; w++) expect(wait(poll, clock)).toEqual(SPUN);
    const ctl = new Int32Array(1);
    const before = clock.reads;
    clock.onRead = () => clock.reads === before + 10 && Atomics.store(ctl, 0, 1);
    expect(poll(ctl, 0, 0)).toBe(true);
    expect(clock.reads - before).toBe(11); // the change is seen at the next poll, which looks at the clock
  });

  it("gives way once a window loses over lostShare to pauses, twice as long each time, up to the most", () => {
    const clock = new Clock();
    const poll = make(CONFIG, clock);
    clock.step = 0.5; // every look a pause over pauseMs: all its time lost
    expect(wait(poll, clock)).toEqual({ result: false, reads: 101 }); // 50 ms polled
    expect(wait(poll, clock)).toEqual({ result: false, reads: 101 }); // the window full: gives way for 100 ms
    const gaveWayAt = clock.t;
    expect(wait(poll, clock)).toEqual(POLITE);
    clock.t = gaveWayAt + 100;
    expect(wait(poll, clock)).toEqual(SPUN); // 50 ms, no window full yet
    expect(wait(poll, clock)).toEqual(SPUN); // gives way for 200 ms
    const second = clock.t;
    clock.t = second + 150;
    expect(wait(poll, clock)).toEqual(POLITE);
    clock.t = second + 200;
    expect(wait(poll, clock)).toEqual(SPUN);
    expect(wait(poll, clock)).toEqual(SPUN); // gives way for 300 ms (the most), then 300 again
    const third = clock.t;
    clock.t = third + 299;
    expect(wait(poll, clock)).toEqual(POLITE);
    clock.t = third + 300;
    expect(wait(poll, clock)).toEqual(SPUN);
    expect(wait(poll, clock)).toEqual(SPUN);
    clock.t += 299;
    expect(wait(poll, clock)).toEqual(POLITE);
  });

  it("a share lost at or under lostShare does not make it give way; resetMs of polling brings back giveWayMs", () => {
    const clock = new Clock();
    const poll = make(CONFIG, clock);
    // One look in four a pause of 0.4 ms, the others 0.1: 0.4 / 0.7 lost (57%), then 1 in 8: 0.4 / 1.1 (36%) and 1 in 16 (21%)
    let look = 0;
    const every = (n: number): void => {
      clock.onRead = () => {
        clock.step = ++look % n === 0 ? 0.4 : 0.1;
      };
    };
    every(16);
    for (let w = 0; w < 30; w++) expect(wait(poll, clock)).toEqual(SPUN);
    every(4);
    let waits = 0;
    while (wait(poll, clock).reads === 101) waits++;
    expect(waits).toBeGreaterThan(0);
    expect(waits).toBeLessThan(20);
    // Given way 100 ms, then 200 at the next; but after resetMs of calm polling, 100 again.
    clock.t += 100;
    every(16);
    for (let w = 0; w < 80; w++) expect(wait(poll, clock)).toEqual(SPUN); // well over resetMs of polling
    every(4);
    while (wait(poll, clock).reads === 101);
    clock.t += 100;
    clock.onRead = null;
    clock.step = 0.1;
    expect(wait(poll, clock)).toEqual(SPUN);
  });
});

describe.each(IMPLEMENTATIONS)("%s between jobs", (_name, make) => {
  it("resetMs counts polling, not the time between waits: short lossy waits 10 ms of jobs apart give way twice as long each time", () => {
    const clock = new Clock();
    const poll = make(CONFIG, clock);
    clock.step = 0.5; // every look a pause: all its polling lost
    const ctl = new Int32Array(1);
    /** 10 ms of jobs, then a wait that sees its slot change at its third look (1.5 ms of polling); its clock readings. */
    const shortWait = (): number => {
      clock.t += 10;
      ctl[0] = 0;
      const before = clock.reads;
      clock.onRead = () => clock.reads === before + 3 && Atomics.store(ctl, 0, 1);
      poll(ctl, 0, 0);
      clock.onRead = null;
      return clock.reads - before;
    };
    /** Waits until one gives way (a polite wait, one reading), then how many polite waits in a row. */
    const politeRun = (): { spunWaits: number; polite: number } => {
      let spunWaits = 0;
      while (shortWait() !== 1) spunWaits++;
      let polite = 1;
      while (shortWait() === 1) polite++;
      return { spunWaits, polite };
    };
    // 100 ms of polling (a window) takes 67 waits, 770 ms of wall time: over resetMs, but not of polling.
    const runs = [politeRun(), politeRun(), politeRun(), politeRun()];
    expect(runs.map((r) => r.spunWaits)).toEqual([67, 66, 66, 66]);
    // Giving way 100, 200, 300 (the most), 300 ms; a polite wait and its jobs take 10.5 ms.
    expect(runs.map((r) => r.polite)).toEqual([9, 19, 28, 28]);
  });
});

describe("GiveWaySpin's callerPollMs", () => {
  it("ends a wait after callerPollMs of polling, whatever the share lost", () => {
    const clock = new Clock();
    const spin = new GiveWaySpin({ ...CONFIG, callerPollMs: 1 }, clock.now);
    clock.step = 0.25; // not over pauseMs: nothing lost
    const before = clock.reads;
    expect(spin.poll(new Int32Array(1), 0, 0, POLLS)).toBe(false);
    // The start and 5 looks 0.25 ms apart (of a budget of 100): the first past 1 ms ends it.
    expect(clock.reads - before).toBe(6);
    expect(spin.gaveWay).toBe(0);
  });
});
