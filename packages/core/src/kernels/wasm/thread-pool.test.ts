import { afterEach, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { CONTROL_HEADER, DEFAULT_POLLS, awaitJobs, claimJobs, pollBudget, publishJobs, setPollBudget, startWorkers, stopWorkers, workerSource } from "./thread-pool.js";

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
});
