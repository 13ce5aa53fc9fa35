import { describe, expect, it } from "vitest";
import { planArgs } from "./spawn-worker.js";
import { parseWorkerArgs } from "./worker-cli.js";

describe("worker command line", () => {
  it("reads the plan main.ts passes, a fixed warm-up without --max-warmup", () => {
    const a = parseWorkerArgs(["--workload", "/tmp/w.bin", "--warmup", "300", "--max-warmup", "4000", "--settle-steps", "3000", "--max-warmup-seconds", "20", "--steps", "100", "--min-timed-seconds", "3", "--threads", "2"], ["threads"]);
    expect(a).toEqual({
      workloadPath: "/tmp/w.bin",
      warmupSteps: 300,
      maxWarmupSteps: 4000,
      settleSteps: 3000,
      maxWarmupSeconds: 20,
      trainSteps: 100,
      minTimedSeconds: 3,
      inferCount: 1000,
      inferReps: 10,
      extra: { threads: "2" },
    });
    const fixed = parseWorkerArgs(["--workload", "/tmp/w.bin", "--warmup", "7"]);
    expect([fixed.warmupSteps, fixed.maxWarmupSteps, fixed.settleSteps, fixed.maxWarmupSeconds, fixed.minTimedSeconds]).toEqual([7, 7, 7, Infinity, 0]);
  });

  it("reads back every field of the plan main.ts hands a worker", () => {
    const plan = { warmupSteps: 20, maxWarmupSteps: 300, settleSteps: 200, maxWarmupSeconds: 20, trainSteps: 8, inferCount: 256, inferReps: 5, minTimedSeconds: 3 };
    const { workloadPath, extra, ...read } = parseWorkerArgs(planArgs("/tmp/cifar.bin", { ...plan, niceness: -20 }));
    expect([workloadPath, extra]).toEqual(["/tmp/cifar.bin", {}]);
    expect(read).toEqual(plan);
  });

  it("refuses bad values with the bench's rules, naming the worker, the option and what it got", () => {
    const args = (...more: string[]) => ["--workload", "/tmp/w.bin", ...more];
    expect(() => parseWorkerArgs(args("--steps=-1"))).toThrow('worker: --steps must be an integer >= 0, but got "-1"');
    expect(() => parseWorkerArgs(args("--max-warmup", "1.5"))).toThrow('worker: --max-warmup must be an integer >= 0, but got "1.5"');
    expect(() => parseWorkerArgs(args("--max-warmup-seconds", "0"))).toThrow('worker: --max-warmup-seconds must be a positive number of seconds, but got "0"');
    expect(() => parseWorkerArgs(args("--min-timed-seconds=-0.5"))).toThrow('worker: --min-timed-seconds must be a non-negative number of seconds, but got "-0.5"');
    expect(() => parseWorkerArgs([])).toThrow("worker: --workload <file> is required");
  });
});
