import { parseArgs } from "node:util";
import type { BenchSystem, MeasureOptions, Measurement } from "./measure.js";
import { measure } from "./measure.js";
import { integerOption, secondsOption } from "./option-values.js";
import type { Workload } from "./workload.js";
import { readWorkload } from "./workload.js";

/** The line prefix under which a worker prints its JSON result on stdout. */
export const RESULT_PREFIX = "BENCH-RESULT ";

export interface WorkerResult extends Measurement {
  system: string;
  info: Record<string, string | number | boolean>;
}

export interface WorkerArgs extends MeasureOptions {
  workloadPath: string;
  extra: Record<string, string | undefined>;
}

export function parseWorkerArgs(argv: string[], extraOptions: readonly string[] = []): WorkerArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: "string" },
      warmup: { type: "string", default: "5" },
      "max-warmup": { type: "string" },
      "max-warmup-seconds": { type: "string" },
      "settle-steps": { type: "string" },
      "min-timed-seconds": { type: "string" },
      steps: { type: "string", default: "30" },
      "infer-count": { type: "string", default: "1000" },
      "infer-reps": { type: "string", default: "10" },
      ...Object.fromEntries(extraOptions.map((name) => [name, { type: "string" as const }])),
    },
    strict: true,
  });
  const int = (name: string, value: string): number => integerOption("worker", name, value, 0);
  if (typeof values.workload !== "string") throw new Error("worker: --workload <file> is required");
  const all = values as Record<string, string | boolean | undefined>;
  const warmupSteps = int("warmup", values.warmup);
  return {
    workloadPath: values.workload,
    warmupSteps,
    maxWarmupSteps: values["max-warmup"] === undefined ? warmupSteps : int("max-warmup", values["max-warmup"]),
    settleSteps: values["settle-steps"] === undefined ? warmupSteps : int("settle-steps", values["settle-steps"]),
    maxWarmupSeconds: values["max-warmup-seconds"] === undefined ? Infinity : secondsOption("worker", "max-warmup-seconds", values["max-warmup-seconds"]),
    trainSteps: int("steps", values.steps),
    minTimedSeconds: values["min-timed-seconds"] === undefined ? 0 : secondsOption("worker", "min-timed-seconds", values["min-timed-seconds"], true),
    inferCount: int("infer-count", values["infer-count"]),
    inferReps: int("infer-reps", values["infer-reps"]),
    extra: Object.fromEntries(extraOptions.map((name) => [name, typeof all[name] === "string" ? (all[name] as string) : undefined])),
  };
}

/** Loads the workload, builds the system, measures it and prints the result line. */
export async function runWorker(
  system: string,
  args: WorkerArgs,
  build: (workload: Workload) => Promise<{ system: BenchSystem; info: WorkerResult["info"] }>,
): Promise<void> {
  const workload = readWorkload(args.workloadPath);
  const built = await build(workload);
  const result: WorkerResult = { system, info: built.info, ...measure(built.system, workload, args) };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}
