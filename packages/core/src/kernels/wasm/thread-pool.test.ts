import { afterEach, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import {
  CONTROL_HEADER,
  CONTROL_SLOTS,
  DEFAULT_POLLS,
  MAX_JOBS,
  awaitJobs,
  claimJob,
  claimJobs,
  jobFinished,
  markReady,
  pollBudget,
  publishJobs,
  setPollBudget,
  startWorkers,
  stopWorkers,
  workerSource,
} from "./thread-pool.js";

useNodeWorkers();

// Each job writes its square into the user's part of the control block.
const SOURCE = workerSource("", `ctl[${CONTROL_HEADER} + job] = job * job;`);

describe("thread pool polling budget", () => {
  afterEach(() => setPollBudget(DEFAULT_POLLS));

  it("refuses a budget that is not an integer >= 0, naming it", () => {
    expect(() => setPollBudget(-1)).toThrow("setPollBudget: count must be an integer >= 0, but got -1");
    expect(() => setPollBudget(2.5)).toThrow("but got 2.5");
    expect(pollBudget()).toBe(DEFAULT_POLLS);
  });

  it("claimJob runs one job on the calling thread at a time, false once none is left; an error it throws goes to failed", async () => {
    const pool = await startWorkers(1, SOURCE, CONTROL_HEADER + 64, () => ({}));
    expect(pool).not.toBeNull();
    try {
      const count = 40;
      publishJobs(pool!, count, (ctl) => ctl.fill(-1, CONTROL_HEADER, CONTROL_HEADER + 64));
      const errors: unknown[] = [];
      let runs = 0;
      const run = (job: number): void => {
        runs++;
        pool!.control[CONTROL_HEADER + job] = job * job;
        if (runs === 1) throw new Error("first job of the calling thread");
      };
      let claimed = 0;
      while (claimJob(pool!, count, run, (e) => errors.push(e))) claimed++;
      expect(claimed).toBe(runs);
      expect(claimJob(pool!, count, run, (e) => errors.push(e))).toBe(false);
      expect(runs).toBe(claimed);
      expect(errors.map((e) => (e as Error).message)).toEqual(claimed > 0 ? ["first job of the calling thread"] : []);
      const error = errors[0] ?? null;
      if (error === null) awaitJobs(pool!, count, (who) => `test: ${who} failed`);
      else expect(() => awaitJobs(pool!, count, (who) => `test: ${who} failed`, error)).toThrow("test: the calling thread failed");
      expect(Array.from(pool!.control.subarray(CONTROL_HEADER, CONTROL_HEADER + count))).toEqual(Array.from({ length: count }, (_, job) => job * job));
    } finally {
      await stopWorkers(pool!);
    }
  });

  it("staged tables finish when the workers sleep for a job's input: markReady wakes those that wait on it", async () => {
    // No polls: a worker that claims a job not yet ready sleeps on it at once, and must be woken by markReady.
    setPollBudget(0);
    const pool = await startWorkers(2, SOURCE, CONTROL_HEADER + 64, () => ({}));
    expect(pool).not.toBeNull();
    try {
      for (let table = 0; table < 30; table++) {
        const count = 2 + (table % 7);
        publishJobs(pool!, count, (ctl) => ctl.fill(-1, CONTROL_HEADER, CONTROL_HEADER + 64), 0);
        for (let ready = 1; ready <= count; ready++) {
          // Give the workers time to claim a job beyond the ready ones and fall asleep on it.
          const until = performance.now() + 0.2;
          while (performance.now() < until);
          markReady(pool!, ready);
        }
        const error = claimJobs(pool!, count, (job) => {
          pool!.control[CONTROL_HEADER + job] = job * job;
        });
        awaitJobs(pool!, count, (who) => `test: ${who} failed`, error);
        expect(Array.from(pool!.control.subarray(CONTROL_HEADER, CONTROL_HEADER + count))).toEqual(Array.from({ length: count }, (_, job) => job * job));
      }
    } finally {
      await stopWorkers(pool!);
    }
  });

  for (const polls of [0, 200, DEFAULT_POLLS]) {
    it(`runs every job of repeated tables with ${polls} polls before sleeping`, async () => {
      setPollBudget(polls);
      const pool = await startWorkers(1, SOURCE, CONTROL_HEADER + 64, () => ({}));
      expect(pool).not.toBeNull();
      try {
        for (let table = 0; table < 50; table++) {
          const count = 1 + (table % 40);
          publishJobs(pool!, count, (ctl) => ctl.fill(-1, CONTROL_HEADER, CONTROL_HEADER + 64));
          const error = claimJobs(pool!, count, (job) => {
            pool!.control[CONTROL_HEADER + job] = job * job;
          });
          awaitJobs(pool!, count, (who) => `test: ${who} failed`, error);
          const results = Array.from(pool!.control.subarray(CONTROL_HEADER, CONTROL_HEADER + count));
          expect(results).toEqual(Array.from({ length: count }, (_, job) => job * job));
        }
      } finally {
        await stopWorkers(pool!);
      }
    });
  }

  it("a table open all ready: the calling thread takes jobs from the front, a worker from the back, each job once", async () => {
    // Each job takes ~1 ms and records who ran it: 1 the calling thread, 2 the worker.
    const source = workerSource("", `const until = Date.now() + 1; while (Date.now() < until); ctl[${CONTROL_HEADER} + job] += 2;`);
    const pool = await startWorkers(1, source, CONTROL_HEADER + 64, () => ({}));
    expect(pool).not.toBeNull();
    try {
      for (const count of [16, 9, 2]) {
        publishJobs(pool!, count, (ctl) => ctl.fill(0, CONTROL_HEADER, CONTROL_HEADER + 64));
        const error = claimJobs(pool!, count, (job) => {
          const until = Date.now() + 1;
          while (Date.now() < until);
          pool!.control[CONTROL_HEADER + job]! += 1;
        });
        awaitJobs(pool!, count, (who) => `test: ${who} failed`, error);
        const who = Array.from(pool!.control.subarray(CONTROL_HEADER, CONTROL_HEADER + count));
        const front = who.indexOf(2) < 0 ? count : who.indexOf(2);
        expect(who).toEqual([...Array<number>(front).fill(1), ...Array<number>(count - front).fill(2)]);
      }
    } finally {
      await stopWorkers(pool!);
    }
  });
});

// The interleaving a worker still looping from the last table can meet: it claims a job of the next table
// after openJobs opened it (NEXT = 0) but before the workers' wake-up (SEQ) is stored, and runs and marks it
// done in between. The test pauses the worker before that claim and the calling thread before the SEQ store
// (both through their Atomics calls) and lets them go in that order, on a gate word of their own.
const IDLE = 0;
const ARMED = 1; // the worker's first job ran: pause before its next claim
const PAUSED = 2; // the worker waits before that claim
const RELEASED = 3; // the calling thread, about to store SEQ, let the worker claim
const STAMPED = 4; // the worker marked the claimed job done: the calling thread goes on
const { SEQ, NEXT, COUNT, DONE } = CONTROL_SLOTS;
const GATED_SOURCE = workerSource(
  `const gate = new Int32Array(workerData.gate);
const real = Atomics;
globalThis.Atomics = Object.create(real, {
  add: { value: (array, slot, value) => {
    if (array === ctl && slot === ${NEXT} && real.load(gate, 0) === ${ARMED}) {
      real.store(gate, 0, ${PAUSED});
      real.notify(gate, 0);
      real.wait(gate, 0, ${PAUSED}, 5000);
    }
    return real.add(array, slot, value);
  } },
  store: { value: (array, slot, value) => {
    const stored = real.store(array, slot, value);
    if (array === ctl && slot >= ${DONE} && slot < ${DONE + MAX_JOBS} && real.load(gate, 0) === ${RELEASED}) {
      real.store(gate, 0, ${STAMPED});
      real.notify(gate, 0);
    }
    return stored;
  } },
});`,
  `if (Atomics.load(gate, 0) === ${IDLE}) Atomics.store(gate, 0, ${ARMED});
ctl[${CONTROL_HEADER} + job] += 1;`,
);

function awaitGate(gate: Int32Array, value: number): void {
  const deadline = Date.now() + 5000;
  for (let g = Atomics.load(gate, 0); g !== value; g = Atomics.load(gate, 0)) {
    if (Date.now() > deadline) throw new Error(`test gate: waited 5 s for ${value}, still ${g}`);
    Atomics.wait(gate, 0, g, 50);
  }
}

describe("thread pool tables", () => {
  it("a job a worker claims between NEXT's opening and SEQ's store counts as done in the table it came from", async () => {
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const pool = await startWorkers(1, GATED_SOURCE, CONTROL_HEADER + 64, () => ({ gate: gate.buffer }));
    expect(pool).not.toBeNull();
    const store = Atomics.store;
    try {
      const clear = (ctl: Int32Array): void => void ctl.fill(0, CONTROL_HEADER, CONTROL_HEADER + 64);
      // Table 1: the worker runs its one job (the calling thread claims none) and pauses before its next claim.
      publishJobs(pool!, 1, clear);
      awaitJobs(pool!, 1, (who) => `test: ${who} failed`);
      awaitGate(gate, PAUSED);
      // Table 2: when openJobs is about to store SEQ, the worker claims, runs and marks its job first.
      Atomics.store = ((array: Int32Array, slot: number, value: number): number => {
        if (array === pool!.control && slot === SEQ && value > 0 && Atomics.load(gate, 0) === PAUSED) {
          store(gate, 0, RELEASED);
          Atomics.notify(gate, 0);
          awaitGate(gate, STAMPED);
        }
        return store(array, slot, value);
      }) as typeof Atomics.store;
      publishJobs(pool!, 1, clear);
      Atomics.store = store;
      expect(Atomics.load(gate, 0)).toBe(STAMPED);
      expect(claimJob(pool!, 1, () => undefined, () => undefined)).toBe(false);
      expect(jobFinished(pool!, 0)).toBe(true);
      awaitJobs(pool!, 1, (who) => `test: ${who} failed`);
      expect(pool!.control[CONTROL_HEADER]).toBe(1);
    } finally {
      Atomics.store = store;
      await stopWorkers(pool!);
    }
  });

  it("a worker that reads COUNT after its table finished and the next opened drops its ticket: each job runs once", async () => {
    // The worker runs table 1's one job, takes its next (failed) ticket and pauses before reading COUNT;
    // table 1 closes and table 2 (4 jobs) opens before it goes on. Each job adds 1 to its slot.
    const source = workerSource(
      `const gate = new Int32Array(workerData.gate);
const real = Atomics;
globalThis.Atomics = Object.create(real, {
  load: { value: (array, slot) => {
    if (array === ctl && slot === ${COUNT} && real.load(gate, 0) === ${ARMED}) {
      real.store(gate, 0, ${PAUSED});
      real.notify(gate, 0);
      real.wait(gate, 0, ${PAUSED}, 5000);
    }
    return real.load(array, slot);
  } },
});`,
      `Atomics.add(ctl, ${CONTROL_HEADER} + job, 1);
if (Atomics.load(gate, 0) === ${IDLE}) Atomics.store(gate, 0, ${ARMED});`,
    );
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const pool = await startWorkers(1, source, CONTROL_HEADER + 64, () => ({ gate: gate.buffer }));
    expect(pool).not.toBeNull();
    try {
      const ctl = pool!.control;
      const clear = (c: Int32Array): void => void c.fill(0, CONTROL_HEADER, CONTROL_HEADER + 64);
      publishJobs(pool!, 1, clear);
      awaitGate(gate, PAUSED);
      awaitJobs(pool!, 1, (who) => `test: ${who} failed`);
      publishJobs(pool!, 4, clear);
      Atomics.store(gate, 0, RELEASED);
      Atomics.notify(gate, 0);
      const error = claimJobs(pool!, 4, (job) => void Atomics.add(ctl, CONTROL_HEADER + job, 1));
      const deadline = Date.now() + 5000;
      while (![0, 1, 2, 3].every((j) => jobFinished(pool!, j)) && Date.now() < deadline) Atomics.wait(gate, 0, Atomics.load(gate, 0), 1);
      // Time for a second run of a job claimed twice to land.
      Atomics.wait(gate, 0, Atomics.load(gate, 0), 50);
      expect(Array.from(ctl.subarray(CONTROL_HEADER, CONTROL_HEADER + 4))).toEqual([1, 1, 1, 1]);
      awaitJobs(pool!, 4, (who) => `test: ${who} failed`, error);
    } finally {
      await stopWorkers(pool!);
    }
  });

  it("claimJob after awaitJobs closed the table claims nothing", async () => {
    const pool = await startWorkers(1, workerSource("", ""), CONTROL_HEADER + 64, () => ({}));
    expect(pool).not.toBeNull();
    try {
      publishJobs(pool!, 4, () => {});
      awaitJobs(pool!, 4, (who) => `test: ${who} failed`, claimJobs(pool!, 4, () => {}));
      const ran: number[] = [];
      expect(claimJob(pool!, 4, (job) => void ran.push(job), () => {})).toBe(false);
      expect(ran).toEqual([]);
    } finally {
      await stopWorkers(pool!);
    }
  });

  it("the sequence starts again at 1 after 2^31 - 1 tables: each job runs once and counts as finished", async () => {
    const pool = await startWorkers(1, workerSource("", `Atomics.add(ctl, ${CONTROL_HEADER} + job, 1);`), CONTROL_HEADER + 64, () => ({}));
    expect(pool).not.toBeNull();
    try {
      const ctl = pool!.control;
      pool!.sequence = 2 ** 31 - 3;
      const sequences: number[] = [];
      for (let table = 0; table < 6; table++) {
        publishJobs(pool!, 4, (c) => c.fill(0, CONTROL_HEADER, CONTROL_HEADER + 4));
        const error = claimJobs(pool!, 4, (job) => void Atomics.add(ctl, CONTROL_HEADER + job, 1));
        awaitJobs(pool!, 4, (who) => `test: ${who} failed`, error);
        sequences.push(pool!.sequence);
        expect(Array.from(ctl.subarray(CONTROL_HEADER, CONTROL_HEADER + 4)), `table ${table}`).toEqual([1, 1, 1, 1]);
        expect([0, 1, 2, 3].map((job) => jobFinished(pool!, job)), `table ${table}`).toEqual([true, true, true, true]);
      }
      expect(sequences).toEqual([2 ** 31 - 2, 2 ** 31 - 1, 1, 2, 3, 4]);
    } finally {
      await stopWorkers(pool!);
    }
  });
});
