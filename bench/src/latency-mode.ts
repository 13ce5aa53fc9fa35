import { fileURLToPath } from "node:url";
import type { BenchOptions } from "./cli-options.js";
import { formatLatencyTable, type LatencyResult } from "./inference-latency.js";
import { formatTrainingStep, type TrainingStepResult } from "./training-step-latency.js";
import { runForResult } from "./spawn-worker.js";

/** At least this many alternating rounds: batch-1 latencies drift with whatever else runs. */
const MIN_ROUNDS = 7;

/** `pnpm bench -- --latency`: the latency worker in its own process (under --nice, with --expose-gc); prints and returns its table. */
export async function runLatency(options: BenchOptions): Promise<LatencyResult & { training: TrainingStepResult }> {
  const rounds = Math.max(MIN_ROUNDS, options.rounds);
  console.log(
    `\ninference latency, reference network, one thread each, median of ${rounds} alternating rounds ` +
      `(400 calls per round at batch 1, 2 at batch 1000), seed ${options.seed}:`,
  );
  const script = fileURLToPath(new URL("./latency-worker.js", import.meta.url));
  const result = await runForResult<LatencyResult & { training: TrainingStepResult }>(
    "latency",
    process.execPath,
    ["--expose-gc", script, "--rounds", String(rounds), "--seed", String(options.seed)],
    options.niceness,
  );
  console.log(formatLatencyTable(result));
  console.log(`\ntraining step, reference network, median of ${rounds} alternating rounds of 20 steps:`);
  console.log(formatTrainingStep(result.training));
  return result;
}
