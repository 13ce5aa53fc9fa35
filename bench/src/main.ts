import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkWasmBackpropFilter } from "./check-backprop-filter.js";
import { MATMUL_ROUNDS, activeGemmName, formatMatmulTable, runMatmulBench } from "./matmul.js";
import type { MatmulResult } from "./matmul.js";
import { mnistImages } from "./mnist-batches.js";
import { BATCH_SIZE, referenceWeights } from "./reference-network.js";
import { formatTable, ratios, summarize } from "./report.js";
import type { SystemName, WorkerPlan } from "./spawn-worker.js";
import { runSystem } from "./spawn-worker.js";
import type { WorkerResult } from "./worker-cli.js";
import { writeWorkload } from "./workload.js";

const BACKPROP_FILTER_TOLERANCE = 1e-3;
const LOSS_TOLERANCE = 1e-4;
/** After dozens of Adam steps float32 rounding may drift the two runs apart a little, but not more. */
const TRAJECTORY_TOLERANCE = 1e-2;
const INFER_BATCH = 1000;

const HELP = `pnpm bench [-- options]

Trains DESIGN.md's reference network (batch 64, Adam 1e-3) with Pico.ts and with TensorFlow.js
(wasm backend; cpu backend for a few batches) from the same weights on the same MNIST batches,
each system in its own child process, alternating systems over several rounds.

  --rounds N        rounds of (pico, tfjs-wasm), order alternating (default 3)
  --warmup N        untimed training steps before timing (default 30)
  --steps N         timed training steps per round (default 30)
  --infer-reps N    timed inference calls at batch 1000 per round (default 10)
  --cpu-steps N     timed training steps on the tfjs cpu backend, 0 to skip it (default 2)
  --cpu-infer N     images per inference call on the tfjs cpu backend (default 1000)
  --threads N       threads Pico.ts may use, the calling one included (default 2: both cores;
                    tfjs-wasm's own threads never start under Node, so it runs on one)
  --no-matmul       skip the matmul GFLOP/s comparison
  --seed N          seed of the initial weights and of the batch draw (default 0)
  --out FILE        results file (default bench/results.json)
  --help            this text`;

function parseOptions(): {
  rounds: number;
  warmup: number;
  steps: number;
  inferReps: number;
  cpuSteps: number;
  cpuInfer: number;
  threads: number;
  seed: number;
  out: string;
  matmul: boolean;
} {
  // `pnpm bench -- --rounds 5` passes the "--" through.
  const args = process.argv.slice(2);
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      rounds: { type: "string", default: "3" },
      warmup: { type: "string", default: "30" },
      steps: { type: "string", default: "30" },
      "infer-reps": { type: "string", default: "10" },
      "cpu-steps": { type: "string", default: "2" },
      "cpu-infer": { type: "string", default: "1000" },
      threads: { type: "string", default: "2" },
      "no-matmul": { type: "boolean", default: false },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: fileURLToPath(new URL("../results.json", import.meta.url)) },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`bench: --${name} must be an integer >= ${min}, but got "${value}"`);
    return n;
  };
  return {
    rounds: int("rounds", values.rounds, 1),
    warmup: int("warmup", values.warmup, 0),
    steps: int("steps", values.steps, 1),
    inferReps: int("infer-reps", values["infer-reps"], 1),
    cpuSteps: int("cpu-steps", values["cpu-steps"], 0),
    cpuInfer: int("cpu-infer", values["cpu-infer"], 1),
    threads: int("threads", values.threads, 1),
    seed: int("seed", values.seed, 0),
    out: values.out,
    matmul: !values["no-matmul"],
  };
}

class BenchAbort extends Error {}

function fail(message: string): never {
  throw new BenchAbort(message);
}

function describe(r: WorkerResult): string {
  return (
    `${r.system.padEnd(9)} train ${r.trainImagesPerSec.toFixed(0).padStart(6)} img/s (${r.trainSteps} steps, ` +
    `${(r.trainCpuSeconds / r.trainSeconds).toFixed(2)} cores busy)` +
    `  infer ${r.inferImagesPerSec.toFixed(0).padStart(6)} img/s (batch ${r.inferCount})` +
    `  peak RSS ${r.peakRssMB.toFixed(0)} MB  first loss ${r.firstLoss.toFixed(6)}`
  );
}

async function main(): Promise<void> {
  const options = parseOptions();
  const started = performance.now();
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
    command: ["node", ...process.argv.slice(1)].join(" "),
  };
  console.log(`Pico.ts vs TensorFlow.js: reference network, batch ${BATCH_SIZE}, Adam 1e-3`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; pico GEMM kernel: ${activeGemmName()}\n`);

  const numBatches = options.warmup + options.steps;
  const train = mnistImages({ train: true, count: numBatches * BATCH_SIZE, seed: options.seed });
  const test = mnistImages({ train: false, count: INFER_BATCH });
  const dir = mkdtempSync(join(tmpdir(), "pico-bench-"));
  const workloadPath = join(dir, "workload.bin");
  writeWorkload(workloadPath, {
    weights: referenceWeights(options.seed),
    batchSize: BATCH_SIZE,
    numBatches,
    trainImages: train.images,
    trainLabels: train.labels,
    inferBatch: INFER_BATCH,
    inferImages: test.images,
  });

  try {
    const filterCheck = await checkWasmBackpropFilter();
    console.log(
      `Conv2DBackpropFilter (registered for wasm) vs cpu backend: max abs diff ${filterCheck.maxAbsDiff.toExponential(2)} ` +
        `over ${filterCheck.cases} cases (values up to ${filterCheck.maxAbsValue.toFixed(2)})`,
    );
    if (!(filterCheck.maxAbsDiff <= BACKPROP_FILTER_TOLERANCE)) {
      fail(`the wasm Conv2DBackpropFilter differs from the cpu backend's by ${filterCheck.maxAbsDiff} > ${BACKPROP_FILTER_TOLERANCE}`);
    }

    const plan: WorkerPlan = { warmupSteps: options.warmup, trainSteps: options.steps, inferCount: INFER_BATCH, inferReps: options.inferReps, picoThreads: options.threads };
    const results: WorkerResult[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const order: SystemName[] = round % 2 === 0 ? ["pico", "tfjs-wasm"] : ["tfjs-wasm", "pico"];
      console.log(`\nround ${round + 1}/${options.rounds}`);
      for (const system of order) {
        const result = await runSystem(system, workloadPath, plan);
        console.log(`  ${describe(result)}`);
        results.push(result);
      }
      if (round === 0) checkLosses(results);
    }
    if (options.cpuSteps > 0) {
      console.log("\ntfjs cpu backend (one run, few batches)");
      // No warm-up: at several seconds per step, JIT warm-up is noise, and the run stays short.
      const cpuPlan: WorkerPlan = { warmupSteps: 0, trainSteps: options.cpuSteps, inferCount: options.cpuInfer, inferReps: 1, picoThreads: options.threads };
      const result = await runSystem("tfjs-cpu", workloadPath, cpuPlan);
      console.log(`  ${describe(result)}`);
      results.push(result);
      checkLosses(results);
    }

    let matmul: MatmulResult[] = [];
    const gemm = activeGemmName();
    if (options.matmul) {
      console.log(
        `\nmatmul GFLOP/s, median of ${MATMUL_ROUNDS} rounds (float32; pico = ${gemm}` +
          (options.threads > 1 ? `, products of 4 MFLOP or more split over ${options.threads} threads` : "") +
          `; pico 1t = gemmWasm on one thread; ref = gemmReference), in this process`,
      );
      matmul = await runMatmulBench({ threads: options.threads });
      console.log(formatMatmulTable(matmul));
    }

    const systems: SystemName[] = options.cpuSteps > 0 ? ["pico", "tfjs-wasm", "tfjs-cpu"] : ["pico", "tfjs-wasm"];
    const summaries = systems.map((s) => summarize(s, results));
    const pico = summaries[0]!;
    const wasm = summaries[1]!;
    const r = ratios(pico, wasm);
    const losses = checkLosses(results);

    console.log(`\nMedians over ${options.rounds} rounds (tfjs-cpu: one run); inference at batch ${INFER_BATCH} (cpu: ${options.cpuInfer})\n`);
    console.log(formatTable(summaries, r));
    console.log(
      `\nper CPU-second (process CPU time, all threads; steadier on a busy machine): ` +
        summaries
          .map((s) => `${s.system} train ${s.trainImagesPerCpuSec.median.toFixed(0)}, infer ${s.inferImagesPerCpuSec.median.toFixed(0)} img/cpu-s`)
          .join("; "),
    );
    if (matmul.length > 0) {
      const worst = matmul.reduce((a, b) => (b.picoOverTfjs < a.picoOverTfjs ? b : a));
      const wins = matmul.filter((m) => m.picoOverTfjs >= 1).length;
      console.log(
        `\nmatmul: pico >= tfjs-wasm on ${wins} of ${matmul.length} shapes; ` +
          `lowest pico/tfjs-wasm ${worst.picoOverTfjs.toFixed(2)}x on ${worst.name}`,
      );
    }
    console.log(
      `\nfirst-batch loss from the same weights: ${summaries.map((s) => `${s.system} ${s.firstLoss.toFixed(6)}`).join(", ")} ` +
        `(max diff ${losses.maxDiff.toExponential(2)}, tolerance ${LOSS_TOLERANCE})`,
    );
    const trajectoryDiff = Math.abs(pico.lossAfterTraining - wasm.lossAfterTraining);
    console.log(
      `loss on that batch after ${numBatches} Adam steps: pico ${pico.lossAfterTraining.toFixed(6)}, ` +
        `tfjs-wasm ${wasm.lossAfterTraining.toFixed(6)} (diff ${trajectoryDiff.toExponential(2)}, tolerance ${TRAJECTORY_TOLERANCE})`,
    );
    if (!(trajectoryDiff <= TRAJECTORY_TOLERANCE)) {
      fail(`after ${numBatches} identical Adam steps the losses differ by ${trajectoryDiff}: the systems are not training the same way`);
    }

    const seconds = (performance.now() - started) / 1000;
    const report = {
      machine,
      config: {
        network: "Conv2d(1,8,5) ReLU MaxPool2 Conv2d(8,16,5) ReLU MaxPool2 Flatten Linear(256,120) ReLU Linear(120,10)",
        batchSize: BATCH_SIZE,
        optimizer: "Adam lr 1e-3 betas (0.9, 0.999) eps 1e-8",
        rounds: options.rounds,
        warmupSteps: options.warmup,
        trainSteps: options.steps,
        inferBatch: INFER_BATCH,
        inferReps: options.inferReps,
        cpu: { trainSteps: options.cpuSteps, inferCount: options.cpuInfer },
        seed: options.seed,
      },
      checks: {
        conv2dBackpropFilter: { ...filterCheck, tolerance: BACKPROP_FILTER_TOLERANCE },
        firstBatchLoss: { ...losses, tolerance: LOSS_TOLERANCE },
        lossAfterTraining: {
          steps: numBatches,
          pico: pico.lossAfterTraining,
          tfjsWasm: wasm.lossAfterTraining,
          diff: trajectoryDiff,
          tolerance: TRAJECTORY_TOLERANCE,
        },
      },
      systems: Object.fromEntries(summaries.map((s) => [s.system, s])),
      ratiosPicoOverTfjsWasm: r,
      matmul: { picoGemm: gemm, shapes: matmul },
      runs: results,
      seconds,
    };
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${options.out} (${seconds.toFixed(0)} s in all)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every system, from the same weights, must see the same loss on the first batch. */
function checkLosses(results: readonly WorkerResult[]): { bySystem: Record<string, number>; maxDiff: number } {
  const bySystem: Record<string, number> = {};
  for (const r of results) bySystem[r.system] ??= r.firstLoss;
  const values = Object.values(bySystem);
  const maxDiff = Math.max(...values) - Math.min(...values);
  if (!(maxDiff <= LOSS_TOLERANCE)) {
    fail(
      `the systems disagree on the first batch's loss from the same weights (${JSON.stringify(bySystem)}, ` +
        `difference ${maxDiff} > ${LOSS_TOLERANCE}): they are not computing the same thing`,
    );
  }
  return { bySystem, maxDiff };
}

try {
  await main();
} catch (error) {
  console.error(`\nbench: ${error instanceof BenchAbort ? error.message : String(error instanceof Error ? (error.stack ?? error) : error)}`);
  process.exitCode = 1;
}
