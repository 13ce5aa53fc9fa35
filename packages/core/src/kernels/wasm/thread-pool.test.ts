import { afterEach, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { CONTROL_HEADER, DEFAULT_POLLS, awaitJobs, claimJob, claimJobs, markReady, pollBudget, publishJobs, setPollBudget, startWorkers, stopWorkers, workerSource } from "./thread-pool.js";

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
