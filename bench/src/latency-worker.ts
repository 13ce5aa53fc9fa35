import { parseArgs } from "node:util";
import { measureInferenceLatency } from "./inference-latency.js";
import { measureTrainingStep } from "./training-step-latency.js";
import { RESULT_PREFIX } from "./worker-cli.js";

// `pnpm bench -- --latency` runs this in its own process (under --nice, with --expose-gc), one thread.

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rounds: { type: "string", default: "7" },
    seed: { type: "string", default: "0" },
    calls: { type: "string", default: "400" },
    "heap-calls": { type: "string", default: "10000" },
  },
  strict: true,
});
const int = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`latency worker: --${name} must be a non-negative integer, but got ${value}`);
  return n;
};
const result = await measureInferenceLatency({
  batches: [1, 1000],
  rounds: Math.max(1, int("rounds", values.rounds)),
  seed: int("seed", values.seed),
  callsAtBatch1: Math.max(1, int("calls", values.calls)),
  heapCalls: int("heap-calls", values["heap-calls"]),
});
const training = measureTrainingStep({ rounds: Math.max(1, int("rounds", values.rounds)), steps: 20, seed: int("seed", values.seed) });
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ...result, training })}\n`);
