import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { integerOption, OptionError, secondsOption } from "./option-values.js";
import type { SystemName } from "./spawn-worker.js";
import { SYSTEM_NAMES } from "./spawn-worker.js";
import type { NetworkName } from "./workload.js";
import { NETWORK_NAMES } from "./workload.js";

export const HELP = `pnpm bench [-- options]

Trains two networks with Pico.ts, TensorFlow.js (wasm backend; cpu backend for a few batches of the
reference network) and PyTorch (when /usr/bin/python3 can import torch) from the same weights on the
same batches, each system in its own process, alternating over rounds, and prints medians: img/s and
GFLOP/s for training and inference, peak RSS, and ratios of Pico against tfjs-wasm and PyTorch.

  reference  docs/design.md's LeNet-shaped network on real MNIST, batch 64, Adam 1e-3, inference at batch 1000
  cifar      issue 11's CIFAR-shaped network (3x3 convolutions, BatchNorm, a residual block) on seeded
             synthetic 3x32x32 images, batch 64, SGD momentum 0.9, inference in eval mode at batch 256

Options:
  --network NAME     reference, cifar or all (default all)
  --systems LIST     comma-separated, of pico, tfjs-wasm, tfjs-cpu, torch (default all of them; tfjs-cpu
                     runs the reference network only; torch is left out, with one line, where it is missing)
  --threads LIST     thread counts for pico and torch, e.g. 1,2 (default 1,2; tfjs-wasm's threads never
                     start under Node, so it always runs on one); the largest pico count N > 1 also runs as
                     pico dpN (@pico/nn's DataParallel, N replicas, the batch in N shards; on cifar with the
                     BatchNorm statistics synchronized across the replicas)
  --rounds N         rounds over all runs, order reversed every other round (default 3)
  --warmup N         untimed training steps before timing at least, and the step of the loss check after
                     warm-up (default: reference 300, cifar 3)
  --max-warmup N     untimed training steps at most: past --warmup every run goes on in windows of --steps
                     steps until its step time is steady (neither of the last two windows 3% faster than
                     the fastest before them; the same rule for every system) or the windows have taken
                     --max-warmup-seconds, then times its steps
                     (default: reference 4000, cifar 300)
  --settle-steps N   untimed training steps at least before the steady rule may end the warm-up (the
                     caps still apply): V8 goes on compiling Pico's step for thousands of reference
                     steps and hundreds of CIFAR ones (steady-warmup.ts) (default: reference 3000, cifar
                     200; with an explicit --warmup and no --max-warmup, the warm-up)
  --max-warmup-seconds S
                     seconds at most of those warm-up windows, for every system alike (default 20: a
                     slow system, such as tfjs-wasm on cifar at ~4 s a step, stops after one window)
  --steps N          timed training steps per run at least, and the warm-up windows' length (default:
                     reference 100, cifar 8)
  --min-timed-seconds S
                     the timed training steps and inference calls of every run go on, whole steps and
                     calls, until each part has taken S seconds, for every system alike (default 3; 0:
                     exactly --steps and --infer-reps)
  --check-steps N    the first N step losses must agree across systems; round 1 warms up at least this
                     many steps (default 20)
  --infer-reps N     timed inference calls per run at least (default: reference 30, cifar 5)
  --cpu-steps N      timed training steps at least on the tfjs cpu backend (default 2)
  --cpu-infer N      images per inference call on the tfjs cpu backend (default 1000)
  --breakdown        instead of the comparison: time every operator of Pico's training step and
                     inference call (forward and backward, per call site and per operator) at each
                     --threads count, and PyTorch's operators (autograd profiler) when torch is in --systems
  --latency          instead of the comparison: inference latency of the reference network at batch 1
                     and 1000, Pico eager vs Pico compiled (compile: the captured graph replayed on
                     planned buffers) vs the exported ONNX file in onnxruntime-node, one thread each,
                     --rounds alternating rounds (at least 7), and the typed arrays each Pico way allocates per call;
                     then a training step (batch 64, Adam) eager vs compiled with its backward
  --no-matmul        skip the matmul GFLOP/s comparison (run with the reference network and tfjs-wasm)
  --nice=N           run the workers under nice -n N, -20 to 19 (default 0); on a machine whose cores
                     other processes also want, --nice=-20 (as root) lets the workers have them
  --seed N           seed of the initial weights and of the data (default 0)
  --out FILE         results file; without it only the full comparison (no --network, --systems,
                     --threads or --breakdown) writes bench/results.json
  --help             this text

Examples:
  pnpm bench                                                   the full comparison (about 23 minutes)
  pnpm bench -- --nice=-20                                     the same on a machine others are using
  pnpm bench -- --network cifar --systems pico --rounds 3      Pico alone, 1 and 2 threads
  pnpm bench -- --network cifar --breakdown --threads 1        where Pico's CIFAR step goes
  pnpm bench -- --latency --nice=-20                           eager vs compiled vs onnxruntime, batch 1 and 1000`;

export interface NetworkSettings {
  warmup: number;
  maxWarmup: number;
  settleSteps: number;
  maxWarmupSeconds: number;
  steps: number;
  inferReps: number;
  minTimedSeconds: number;
}

export interface BenchOptions {
  networks: NetworkName[];
  systems: SystemName[];
  threads: number[];
  rounds: number;
  /** Per network: explicit options override these defaults. */
  settings: Record<NetworkName, NetworkSettings>;
  checkSteps: number;
  cpuSteps: number;
  cpuInfer: number;
  breakdown: boolean;
  latency: boolean;
  matmul: boolean;
  niceness: number;
  seed: number;
  /** Where to write the results, or null for nowhere. */
  out: string | null;
}

// The reference network's steps take 3-6 ms: in a fresh process Pico's keep speeding up while V8 compiles,
// one thread for 300-400 steps, two replicas for 600-1,000 (each isolate compiles the same functions, on
// cores both threads hold; img/s per window of 100 steps from a fresh process on this machine: one thread
// 11.6k to 12.9k by step 500, two replicas 11.0k, 12.0k, 12.0k, 14.5k, 14.7k, 11.7k, 17.0k, 16.6k, 17.2k,
// 17.4k), and the machine's speed drifts over tenths of a second: 30 steps after 30 (0.1-0.2 s) timed the
// warm-up and the drift more than the step. A fixed 300 steps timed one thread in its steady state and two
// replicas in their warm-up, so every run warms up until its own step time is steady (steady-warmup.ts),
// 2,000 steps at most. Session 20 counted V8's compiles (steady-warmup.ts): they go on for thousands of steps
// after the windows stop getting 3% faster, so the reference network's runs now take at least 3,000 steps
// (4,000 at most; still 20 s of windows at most, so torch at 8-13 ms a step and tfjs-wasm at ~40 stop
// earlier, as before). On the CIFAR-shaped network 3 warm-up steps timed 2 threads at 1.2-1.3x one thread
// where steady steps gave 1.6x (the fifth session; see bench/README.md for the slower mode the sixth met), and
// a cap of 51 steps still timed Pico's 2 threads while V8 compiled: session 22 counted 100-170 ms of TurboFan
// per 16 steps up to step 80 and 30-150 ms up to step 240 (node --trace-opt), the 2-thread img/s rising from
// ~600 to ~690 by step 200 while one thread was steady after ~30 steps, and a bench whose runs all hit the
// cap measured 2 threads at 515-585 img/s where the same network in one process made 604-674 past step 50.
// So the CIFAR runs go on to 200 steps unless the same 20 s of windows end them first: Pico's 2 threads reach
// ~200, its one thread ~115 (steady after ~30), PyTorch 75-148 (0.1-0.3 s a step), and tfjs-wasm (~4 s a
// step) stops after one window.
// A timed window of a fixed step count took 0.26 s (100 reference steps on 2 threads) to 0.8 s (8 CIFAR
// steps): shorter than the host's swings, so one run's figure was the state it landed in (session 22: Pico's
// CIFAR 2-thread runs of one bench 474, 693 and 568 img/s; in one process, windows of 8 steps 470-705). Every
// timed part now lasts at least 3 s, whole steps or calls, for every system (tfjs-wasm's 8 CIFAR steps take ~34 s).
const DEFAULTS: Record<NetworkName, NetworkSettings> = {
  reference: { warmup: 300, maxWarmup: 4000, settleSteps: 3000, maxWarmupSeconds: 20, steps: 100, inferReps: 30, minTimedSeconds: 3 },
  cifar: { warmup: 3, maxWarmup: 300, settleSteps: 200, maxWarmupSeconds: 20, steps: 8, inferReps: 5, minTimedSeconds: 3 },
};

const int = (name: string, value: string, min: number): number => integerOption("bench", name, value, min);
const seconds = (name: string, value: string): number => secondsOption("bench", name, value);

function niceness(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < -20 || n > 19) throw new OptionError(`bench: --nice must be an integer from -20 to 19, but got "${value}"`);
  return n;
}

function list<T extends string>(name: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(",").map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new OptionError(`bench: --${name} takes a comma-separated list of ${allowed.join(", ")}, but got "${item}"`);
  }
  return [...new Set(items as T[])];
}

/** Parses the command line (`pnpm bench -- --rounds 5` passes the "--" through); null after --help. */
export function parseOptions(argv: readonly string[]): BenchOptions | null {
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        network: { type: "string" },
        systems: { type: "string" },
        threads: { type: "string" },
        rounds: { type: "string", default: "3" },
        warmup: { type: "string" },
        "max-warmup": { type: "string" },
        "max-warmup-seconds": { type: "string" },
        "settle-steps": { type: "string" },
        steps: { type: "string" },
        "min-timed-seconds": { type: "string" },
        "check-steps": { type: "string", default: "20" },
        "infer-reps": { type: "string" },
        "cpu-steps": { type: "string", default: "2" },
        "cpu-infer": { type: "string", default: "1000" },
        breakdown: { type: "boolean", default: false },
        latency: { type: "boolean", default: false },
        "no-matmul": { type: "boolean", default: false },
        nice: { type: "string", default: "0" },
        seed: { type: "string", default: "0" },
        out: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new OptionError(`bench: ${error instanceof Error ? error.message : String(error)} (see --help)`);
  }
  if (values.help) return null;
  const network = values.network ?? "all";
  if (network !== "all" && !(NETWORK_NAMES as readonly string[]).includes(network)) {
    throw new OptionError(`bench: --network must be reference, cifar or all, but got "${network}"`);
  }
  const threads = values.threads === undefined ? [1, 2] : values.threads.split(",").map((t) => int("threads", t.trim(), 1));
  const settings = {} as Record<NetworkName, NetworkSettings>;
  for (const name of NETWORK_NAMES) {
    const warmup = values.warmup === undefined ? DEFAULTS[name].warmup : int("warmup", values.warmup, 0);
    // An explicit --warmup alone is a fixed warm-up; the default cap only where the default minimum is used.
    const maxWarmup = values["max-warmup"] !== undefined ? int("max-warmup", values["max-warmup"], 0) : values.warmup === undefined ? DEFAULTS[name].maxWarmup : warmup;
    // Only the networks that run: `--network cifar --max-warmup 51` is below the reference network's 300.
    if (maxWarmup < warmup && (network === "all" || network === name)) throw new OptionError(`bench: --max-warmup must be at least the warm-up (${warmup} on the ${name} network), but got ${maxWarmup}`);
    const fixed = values.warmup !== undefined && values["max-warmup"] === undefined;
    const settle = values["settle-steps"] !== undefined ? int("settle-steps", values["settle-steps"], 0) : fixed ? warmup : Math.min(DEFAULTS[name].settleSteps, Math.max(maxWarmup, warmup));
    if (settle > Math.max(maxWarmup, warmup) && (network === "all" || network === name)) {
      throw new OptionError(`bench: --settle-steps must be at most the warm-up's cap (${Math.max(maxWarmup, warmup)} on the ${name} network), but got ${settle}`);
    }
    settings[name] = {
      warmup,
      maxWarmup: Math.max(maxWarmup, warmup),
      settleSteps: Math.max(settle, warmup),
      maxWarmupSeconds: values["max-warmup-seconds"] === undefined ? DEFAULTS[name].maxWarmupSeconds : seconds("max-warmup-seconds", values["max-warmup-seconds"]),
      steps: values.steps === undefined ? DEFAULTS[name].steps : int("steps", values.steps, 1),
      inferReps: values["infer-reps"] === undefined ? DEFAULTS[name].inferReps : int("infer-reps", values["infer-reps"], 1),
      minTimedSeconds: values["min-timed-seconds"] === undefined ? DEFAULTS[name].minTimedSeconds : secondsOption("bench", "min-timed-seconds", values["min-timed-seconds"], true),
    };
  }
  if (values["min-timed-seconds"] !== undefined && (values.breakdown || values.latency)) {
    throw new OptionError(`bench: --min-timed-seconds times the comparison's runs; --${values.breakdown ? "breakdown" : "latency"} times a fixed number of steps and calls`);
  }
  const partial = values.network !== undefined || values.systems !== undefined || values.threads !== undefined || values.breakdown || values.latency;
  return {
    networks: network === "all" ? [...NETWORK_NAMES] : [network as NetworkName],
    systems: values.systems === undefined ? [...SYSTEM_NAMES] : list("systems", values.systems, SYSTEM_NAMES),
    threads: [...new Set(threads)].sort((a, b) => a - b),
    rounds: int("rounds", values.rounds, 1),
    settings,
    checkSteps: int("check-steps", values["check-steps"], 0),
    cpuSteps: int("cpu-steps", values["cpu-steps"], 0),
    cpuInfer: int("cpu-infer", values["cpu-infer"], 1),
    breakdown: values.breakdown,
    latency: values.latency,
    matmul: !values["no-matmul"],
    niceness: niceness(values.nice),
    seed: int("seed", values.seed, 0),
    out: values.out ?? (partial ? null : fileURLToPath(new URL("../results.json", import.meta.url))),
  };
}
