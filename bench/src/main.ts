import { spawnSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { formatBreakdown } from "./breakdown.js";
import type { BreakdownResult } from "./breakdown-worker.js";
import { checkWasmBackpropFilter } from "./check-backprop-filter.js";
import type { BenchOptions } from "./cli-options.js";
import { HELP, parseOptions } from "./cli-options.js";
import { networkFlops } from "./flops.js";
import { MATMUL_ROUNDS, activeGemmName, formatMatmulTable } from "./matmul.js";
import type { MatmulResult } from "./matmul.js";
import { CIFAR_DISTINCT_BATCHES } from "./network-workload.js";
import { networkWorkload } from "./network-workload.js";
import { MNIST_TRAIN_IMAGES } from "./mnist-batches.js";
import { BATCH_SIZE } from "./reference-network.js";
import { OptionError } from "./option-values.js";
import type { SystemSummary } from "./report.js";
import { comparisons, formatRatios, formatTable, summarize } from "./report.js";
import type { SystemRun, WorkerPlan } from "./spawn-worker.js";
import { TORCH_PYTHON, isThreaded, runBreakdown, runLabel, runMatmulWorker, runSystem } from "./spawn-worker.js";
import type { TargetCheck } from "./targets.js";
import { checkTargets, formatTargets } from "./targets.js";
import { runLatency } from "./latency-mode.js";
import { formatTorchProfile, runTorchProfile } from "./torch-profile.js";
import type { TorchProfile } from "./torch-profile.js";
import type { WorkerResult } from "./worker-cli.js";
import type { NetworkName } from "./workload.js";
import { distinctBatches, writeWorkload } from "./workload.js";

const BACKPROP_FILTER_TOLERANCE = 1e-3;

/** How closely the systems must agree, per network (float32 rounding, summed in different orders). */
const TOLERANCES: Record<NetworkName, { firstLoss: number; stepLoss: number; afterWarmup: number }> = {
  // Adam divides by sqrt(v): a few hundred steps let rounding grow, but not past 1e-2 by step 300 (past
  // 600 steps one thread and two replicas drift further apart, hence the check at the minimum warm-up).
  reference: { firstLoss: 1e-4, stepLoss: 1e-3, afterWarmup: 1e-2 },
  // Training amplifies rounding: the systems agree to 2e-7 at step 2 and to about 1e-4 at step 20.
  cifar: { firstLoss: 1e-4, stepLoss: 2e-4, afterWarmup: 1e-3 },
};

const DESCRIPTIONS: Record<NetworkName, { title: string; network: string; optimizer: string; data: string }> = {
  reference: {
    title: "reference network (LeNet-shaped), batch 64, Adam 1e-3",
    network: "Conv2d(1,8,5) ReLU MaxPool2 Conv2d(8,16,5) ReLU MaxPool2 Flatten Linear(256,120) ReLU Linear(120,10)",
    optimizer: "Adam lr 1e-3 betas (0.9, 0.999) eps 1e-8",
    data: "real MNIST, normalised with mean 0.1307 / std 0.3081; inference on the first 1000 test images",
  },
  cifar: {
    title: "CIFAR-shaped network, batch 64, SGD momentum 0.9",
    network:
      "Conv2d(3,32,3,p=1) BN ReLU Conv2d(32,32,3,p=1) BN ReLU MaxPool2d(2) Conv2d(32,64,3,p=1) BN ReLU " +
      "ResidualBlock[y = ReLU(x + BN(Conv2d(64,64,3,p=1)(ReLU(BN(Conv2d(64,64,3,p=1)(x))))))] MaxPool2d(2) " +
      "Conv2d(64,128,3,p=1) BN ReLU mean(H,W) Linear(128,10)",
    optimizer: "SGD lr 0.01 momentum 0.9",
    data: `seeded synthetic 3x32x32 images (class template + noise), ${CIFAR_DISTINCT_BATCHES} distinct batches in turn; inference in eval mode at batch 256`,
  },
};

class BenchAbort extends Error {}

function fail(message: string): never {
  throw new BenchAbort(message);
}

function describeRun(r: WorkerResult): string {
  return (
    `${r.system.padEnd(9)} train ${r.trainImagesPerSec.toFixed(0).padStart(6)} img/s (${r.trainSteps} steps after ${r.warmupSteps}, ` +
    `${(r.trainCpuSeconds / r.trainSeconds).toFixed(2)} cores busy)` +
    `  infer ${r.inferImagesPerSec.toFixed(0).padStart(6)} img/s (${r.inferReps} calls of ${r.inferCount})` +
    `  peak RSS ${r.peakRssMB.toFixed(0)} MB  first loss ${r.firstLoss.toFixed(6)}` +
    ("coreRoundTripBeforeNs" in r.info ? `  cores' round trip ${nanoseconds(r.info["coreRoundTripBeforeNs"])}/${nanoseconds(r.info["coreRoundTripAfterNs"])} before/after` : "")
  );
}

/** A round trip as the run line shows it: "115 ns", or "not measured" as spawn-worker recorded it. */
function nanoseconds(value: string | number | boolean | undefined): string {
  return typeof value === "number" ? `${value} ns` : String(value ?? "not measured");
}

/** The 1, 5 and 15 minute load averages: how many processes wanted a core besides the bench. */
function loadLine(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
}

/** Whether /usr/bin/python3 can import torch; the reason when not. */
function torchAvailability(): { ok: true; version: string } | { ok: false; reason: string } {
  const probe = spawnSync(TORCH_PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  if (probe.error !== undefined) return { ok: false, reason: `${TORCH_PYTHON} cannot be run (${probe.error.message})` };
  if (probe.status !== 0) return { ok: false, reason: `${TORCH_PYTHON} cannot import torch` };
  return { ok: true, version: probe.stdout.trim() };
}

interface LossChecks {
  firstLoss: { bySystem: Record<string, number>; maxDiff: number; tolerance: number };
  stepLosses: { steps: number; bySystem: Record<string, number[]>; maxDiff: number; tolerance: number };
  lossAfterWarmup: { steps: number; bySystem: Record<string, number>; maxDiff: number; tolerance: number };
}

function spread(values: readonly number[]): number {
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
}

/**
 * Every system, from the same weights on the same batches, must give the same loss on the first
 * batch, the same losses over the first `checkSteps` training steps, and the same loss on the first
 * batch after the minimum warm-up of `warmupSteps` steps (runs of round 1; the steps past it differ
 * between runs, which warm up until steady).
 */
function checkLosses(network: NetworkName, results: readonly WorkerResult[], checkSteps: number, warmupSteps: number): LossChecks {
  const tol = TOLERANCES[network];
  const first: Record<string, number> = {};
  const steps: Record<string, number[]> = {};
  const after: Record<string, number> = {};
  for (const r of results) {
    first[r.system] ??= r.firstLoss;
    steps[r.system] ??= r.stepLosses.slice(0, checkSteps);
    after[r.system] ??= r.lossAfterWarmup;
  }
  const firstDiff = spread(Object.values(first));
  if (!(firstDiff <= tol.firstLoss)) {
    fail(`${network}: the systems disagree on the first batch's loss from the same weights (${JSON.stringify(first)}, difference ${firstDiff} > ${tol.firstLoss}): they are not computing the same thing`);
  }
  const n = Math.min(...Object.values(steps).map((s) => s.length));
  let stepDiff = 0;
  for (let i = 0; i < n; i++) {
    const d = spread(Object.values(steps).map((s) => s[i]!));
    if (!(d <= tol.stepLoss)) fail(`${network}: at training step ${i + 1} the systems' losses differ by ${d} > ${tol.stepLoss} (${Object.entries(steps).map(([k, s]) => `${k} ${s[i]}`).join(", ")})`);
    stepDiff = Math.max(stepDiff, d);
  }
  const afterDiff = spread(Object.values(after));
  if (!(afterDiff <= tol.afterWarmup)) {
    fail(`${network}: after ${warmupSteps} identical training steps the losses differ by ${afterDiff} > ${tol.afterWarmup} (${JSON.stringify(after)}): the systems are not training the same way`);
  }
  return {
    firstLoss: { bySystem: first, maxDiff: firstDiff, tolerance: tol.firstLoss },
    stepLosses: { steps: n, bySystem: steps, maxDiff: stepDiff, tolerance: tol.stepLoss },
    lossAfterWarmup: { steps: warmupSteps, bySystem: after, maxDiff: afterDiff, tolerance: tol.afterWarmup },
  };
}

function plannedRuns(options: BenchOptions, network: NetworkName, torch: boolean): SystemRun[] {
  const runs: SystemRun[] = [];
  for (const system of options.systems) {
    if (system === "tfjs-cpu") continue;
    if (system === "torch" && !torch) continue;
    if (isThreaded(system)) for (const threads of options.threads) runs.push({ system, threads });
    else runs.push({ system, threads: 1 });
    // The step split by batch shards instead of each kernel by threads: as many replicas as the most
    // threads asked for, each on one kernel thread (on the CIFAR network with its BatchNorm statistics
    // synchronized across the replicas).
    const most = Math.max(...options.threads);
    if (system === "pico" && most > 1) runs.push({ system, threads: 1, replicas: most });
  }
  if (runs.length === 0 && !(network === "reference" && options.systems.includes("tfjs-cpu"))) {
    fail(`no system left to run on the ${network} network (asked for ${options.systems.join(", ")})`);
  }
  return runs;
}

interface NetworkReport {
  config: Record<string, unknown>;
  flopsPerImage: { forward: number; train: number };
  checks: LossChecks | null;
  systems: Record<string, SystemSummary>;
  ratios: ReturnType<typeof comparisons>;
  targets: TargetCheck[];
  runs: WorkerResult[];
}

async function benchNetwork(network: NetworkName, options: BenchOptions, dir: string, torch: boolean): Promise<NetworkReport> {
  const s = options.settings[network];
  const description = DESCRIPTIONS[network];
  const firstWarmup = Math.max(s.warmup, options.checkSteps);
  // Past what MNIST holds the steps go round its batches again (epochs), as they do past numBatches.
  const numBatches = network === "cifar" ? CIFAR_DISTINCT_BATCHES : distinctBatches(firstWarmup + s.steps, MNIST_TRAIN_IMAGES, BATCH_SIZE);
  const workload = networkWorkload(network, options.seed, numBatches);
  const workloadPath = join(dir, `${network}.bin`);
  writeWorkload(workloadPath, workload);
  const flops = networkFlops(network);
  console.log(`\n=== ${description.title} ===`);
  console.log(`${description.network}`);
  console.log(`${description.data}; ${(flops.train / 1e6).toFixed(1)} MFLOP per training image, ${(flops.forward / 1e6).toFixed(1)} per inference image (convolutions and linear layers)`);

  const runs = plannedRuns(options, network, torch);
  const parallel = runs.find((r) => (r.replicas ?? 1) > 1);
  if (parallel !== undefined) {
    console.log(
      `${runLabel(parallel)}: Pico data-parallel, ${parallel.replicas} replicas (DataParallel of @pico/nn: each step's batch cut into ${parallel.replicas} shards, ` +
        `forward and backward on ${parallel.replicas} threads at once${network === "cifar" ? ", BatchNorm statistics synchronized across them" : ""}, ` +
        `the gradients combined for one ${network === "cifar" ? "SGD" : "Adam"} step; inference by shards), beside pico ${parallel.replicas}t (each kernel split over threads)`,
    );
  }
  const results: WorkerResult[] = [];
  let checks: LossChecks | null = null;
  for (let round = 0; round < options.rounds && runs.length > 0; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    const warmupSteps = round === 0 ? firstWarmup : s.warmup;
    const plan: WorkerPlan = {
      warmupSteps,
      maxWarmupSteps: Math.max(s.maxWarmup, warmupSteps),
      settleSteps: Math.max(s.settleSteps, warmupSteps),
      maxWarmupSeconds: s.maxWarmupSeconds,
      trainSteps: s.steps,
      inferCount: workload.inferBatch,
      inferReps: s.inferReps,
      minTimedSeconds: s.minTimedSeconds,
      niceness: options.niceness,
    };
    console.log(`\nround ${round + 1}/${options.rounds}${round === 0 && firstWarmup > s.warmup ? ` (${firstWarmup} warm-up steps, for the loss check)` : ""}`);
    const roundResults: WorkerResult[] = [];
    for (const run of order) {
      const result = await runSystem(run, workloadPath, plan);
      console.log(`  ${describeRun(result)}`);
      roundResults.push(result);
    }
    results.push(...roundResults);
    if (round === 0) {
      checks = checkLosses(network, roundResults, options.checkSteps, firstWarmup);
      for (const r of roundResults) {
        if (r.system.startsWith("pico") && typeof r.info["kernels"] === "string") {
          console.log(`  ${r.system} kernels: ${r.info["kernels"]}; WebAssembly SIMD ${String(r.info["wasmSimd"])}, relaxed SIMD ${String(r.info["relaxedSimd"])}`);
        }
      }
    }
  }
  const labels = runs.map(runLabel);
  if (network === "reference" && options.systems.includes("tfjs-cpu") && options.cpuSteps > 0) {
    console.log("\ntfjs cpu backend (one run, few batches)");
    // No warm-up: at several seconds per step, JIT warm-up is noise, and the run stays short.
    const cpuPlan: WorkerPlan = { warmupSteps: 0, trainSteps: options.cpuSteps, inferCount: options.cpuInfer, inferReps: 1, minTimedSeconds: options.settings.reference.minTimedSeconds, niceness: options.niceness };
    const result = await runSystem({ system: "tfjs-cpu", threads: 1 }, workloadPath, cpuPlan);
    console.log(`  ${describeRun(result)}`);
    results.push(result);
    labels.push("tfjs-cpu");
    if (!(Math.abs(result.firstLoss - results[0]!.firstLoss) <= TOLERANCES.reference.firstLoss) && runs.length > 0) {
      fail(`reference: tfjs-cpu's first-batch loss ${result.firstLoss} differs from ${results[0]!.system}'s ${results[0]!.firstLoss}`);
    }
  }

  const summaries = labels.map((label) => summarize(label, results, flops));
  const ratios = comparisons(summaries);
  console.log(`\n${description.title}: medians over ${options.rounds} rounds${labels.includes("tfjs-cpu") ? " (tfjs-cpu: one run)" : ""}; inference at batch ${workload.inferBatch}\n`);
  console.log(formatTable(summaries));
  if (ratios.length > 0) console.log(`\n${formatRatios(ratios)}`);
  const targets = checkTargets(network, summaries);
  if (targets.length > 0) console.log(`\nissue 11's targets (medians of this run):\n${formatTargets(targets)}`);
  console.log(
    `\nper CPU-second (process CPU time, all threads; steadier on a busy machine): ` +
      summaries.map((x) => `${x.system} train ${x.trainImagesPerCpuSec.median.toFixed(0)}, infer ${x.inferImagesPerCpuSec.median.toFixed(0)}`).join("; ") +
      " img/cpu-s",
  );
  if (checks !== null) {
    const fmt = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(6)}`).join(", ");
    console.log(`first-batch loss from the same weights: ${fmt(checks.firstLoss.bySystem)} (max diff ${checks.firstLoss.maxDiff.toExponential(2)}, tolerance ${checks.firstLoss.tolerance})`);
    console.log(`losses of the first ${checks.stepLosses.steps} training steps: max diff between systems ${checks.stepLosses.maxDiff.toExponential(2)} (tolerance ${checks.stepLosses.tolerance})`);
    console.log(
      `loss on the first batch after ${checks.lossAfterWarmup.steps} steps: ${fmt(checks.lossAfterWarmup.bySystem)} ` +
        `(max diff ${checks.lossAfterWarmup.maxDiff.toExponential(2)}, tolerance ${checks.lossAfterWarmup.tolerance})`,
    );
  }
  return {
    config: {
      network: description.network,
      optimizer: description.optimizer,
      data: description.data,
      batchSize: workload.batchSize,
      inferBatch: workload.inferBatch,
      rounds: options.rounds,
      warmupSteps: s.warmup,
      maxWarmupSteps: s.maxWarmup,
      settleSteps: s.settleSteps,
      maxWarmupSeconds: s.maxWarmupSeconds,
      firstRoundWarmupSteps: firstWarmup,
      trainSteps: s.steps,
      inferReps: s.inferReps,
      minTimedSeconds: s.minTimedSeconds,
      threads: options.threads,
      niceness: options.niceness,
      seed: options.seed,
    },
    flopsPerImage: flops,
    checks,
    systems: Object.fromEntries(summaries.map((x) => [x.system, x])),
    ratios,
    targets,
    runs: results,
  };
}

async function breakdownNetwork(network: NetworkName, options: BenchOptions, dir: string, torch: boolean): Promise<{ pico: BreakdownResult[]; torch: TorchProfile[] }> {
  const s = options.settings[network];
  const workload = networkWorkload(network, options.seed, network === "cifar" ? CIFAR_DISTINCT_BATCHES : s.warmup + s.steps + 1);
  const workloadPath = join(dir, `${network}.bin`);
  writeWorkload(workloadPath, workload);
  const plan: WorkerPlan = { warmupSteps: s.warmup, trainSteps: s.steps, inferCount: workload.inferBatch, inferReps: s.inferReps, niceness: options.niceness };
  const pico: BreakdownResult[] = [];
  const profiles: TorchProfile[] = [];
  for (const threads of options.threads) {
    if (options.systems.includes("pico")) {
      const r = await runBreakdown(threads, workloadPath, plan);
      console.log(`\n${formatBreakdown(r)}`);
      pico.push(r);
    }
    if (torch && options.systems.includes("torch")) {
      const p = await runTorchProfile(threads, workloadPath, plan);
      console.log(`\n${formatTorchProfile(p)}`);
      profiles.push(p);
    }
  }
  return { pico, torch: profiles };
}

function writeAtomically(path: string, text: string): void {
  const temporary = join(dirname(path), `.${process.pid}.results.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) {
    console.log(HELP);
    return;
  }
  const started = performance.now();
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverageAtStart: loadavg(),
    command: ["node", ...process.argv.slice(1)].join(" "),
  };
  console.log(`Pico.ts vs TensorFlow.js vs PyTorch: ${options.networks.join(" and ")} network${options.networks.length > 1 ? "s" : ""}`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; pico GEMM kernel: ${activeGemmName()}`);
  console.log(`load average (1, 5, 15 min) at the start ${loadLine()}: what else wants the ${machine.cores} cores (the bench's own workers add up to their thread count)`);
  let torch = false;
  let torchVersion: string | null = null;
  if (options.systems.includes("torch")) {
    const probe = torchAvailability();
    if (probe.ok) {
      torch = true;
      torchVersion = probe.version;
      console.log(`PyTorch ${probe.version} (${TORCH_PYTHON}), its own process, torch.set_num_threads(n)`);
    } else {
      console.log(`PyTorch left out: ${probe.reason} (apt-get install -y python3-torch to compare against it)`);
    }
  }
  if (options.niceness !== 0) console.log(`workers run under nice -n ${options.niceness}, each in a session of its own`);
  if (options.systems.includes("tfjs-wasm") && !options.breakdown && !options.latency) {
    console.log("tfjs-wasm runs on one thread: its wasm threads do not start under Node");
  }

  const dir = mkdtempSync(join(tmpdir(), "pico-bench-"));
  try {
    const report: Record<string, unknown> = { machine, torchVersion };
    if (options.latency) {
      report["latency"] = await runLatency(options);
    } else if (options.breakdown) {
      const breakdowns: Record<string, unknown> = {};
      for (const network of options.networks) breakdowns[network] = await breakdownNetwork(network, options, dir, torch);
      report["breakdown"] = breakdowns;
    } else {
      if (options.systems.includes("tfjs-wasm")) {
        const filterCheck = await checkWasmBackpropFilter();
        console.log(
          `Conv2DBackpropFilter (registered for wasm) vs cpu backend: max abs diff ${filterCheck.maxAbsDiff.toExponential(2)} ` +
            `over ${filterCheck.cases} cases (values up to ${filterCheck.maxAbsValue.toFixed(2)})`,
        );
        if (!(filterCheck.maxAbsDiff <= BACKPROP_FILTER_TOLERANCE)) {
          fail(`the wasm Conv2DBackpropFilter differs from the cpu backend's by ${filterCheck.maxAbsDiff} > ${BACKPROP_FILTER_TOLERANCE}`);
        }
        report["conv2dBackpropFilterCheck"] = { ...filterCheck, tolerance: BACKPROP_FILTER_TOLERANCE };
      }
      const networks: Record<string, NetworkReport> = {};
      for (const network of options.networks) networks[network] = await benchNetwork(network, options, dir, torch);
      report["networks"] = networks;

      let matmul: MatmulResult[] = [];
      const gemm = activeGemmName();
      const threads = Math.max(...options.threads);
      if (options.matmul && options.networks.includes("reference") && options.systems.includes("tfjs-wasm")) {
        console.log(
          `\nmatmul GFLOP/s, median of ${MATMUL_ROUNDS} rounds (float32; pico = ${gemm}` +
            (threads > 1 ? `, products of 4 MFLOP or more split over ${threads} threads` : "") +
            `; pico 1t = gemmWasm on one thread; ref = gemmReference), in a process of its own`,
        );
        matmul = await runMatmulWorker(threads, options.niceness);
        console.log(formatMatmulTable(matmul));
        const worst = matmul.reduce((a, b) => (b.picoOverTfjs < a.picoOverTfjs ? b : a));
        const wins = matmul.filter((m) => m.picoOverTfjs >= 1).length;
        console.log(`\nmatmul: pico >= tfjs-wasm on ${wins} of ${matmul.length} shapes; lowest pico/tfjs-wasm ${worst.picoOverTfjs.toFixed(2)}x on ${worst.name}`);
      }
      report["matmul"] = { picoGemm: gemm, shapes: matmul };
    }
    const seconds = (performance.now() - started) / 1000;
    report["seconds"] = seconds;
    report["loadAverageAtEnd"] = loadavg();
    console.log(`\nload average at the end ${loadLine()}`);
    if (options.out !== null) {
      writeAtomically(options.out, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`\nwrote ${options.out} (${seconds.toFixed(0)} s in all)`);
    } else {
      console.log(`\n${seconds.toFixed(0)} s in all (a partial run writes no results file unless --out is given)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  const known = error instanceof BenchAbort || error instanceof OptionError;
  console.error(`\nbench: ${known ? error.message.replace(/^bench: /, "") : String(error instanceof Error ? (error.stack ?? error) : error)}`);
  process.exitCode = 1;
}
