import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Generator, kernels } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import * as tf from "@tensorflow/tfjs-core";
import { median } from "./median.js";
import { tfjsBackendInfo, useTfjsBackend } from "./tfjs-setup.js";

/** One matrix product: C[m×n] = op(A)·op(B), where A is stored k×m when `transA` and B stored n×k when `transB`. */
export interface MatmulShape {
  name: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** Pico's default GEMM (on `threads` threads), its WebAssembly kernel on one thread, its plain reference kernel, and tfjs. */
export type MatmulSystem = "pico" | "pico-1-thread" | "pico-reference" | "tfjs-wasm";

export interface MatmulResult extends MatmulShape {
  /** Floating-point operations of one product, 2·m·n·k. */
  flops: number;
  /** Median GFLOP/s over the rounds, per system, from wall-clock time. */
  gflops: Record<MatmulSystem, number>;
  /** Wall-clock GFLOP/s of every round, in round order, per system. */
  rounds: Record<MatmulSystem, number[]>;
  /**
   * Median GFLOP/s from the process's CPU time (user + system) over the same samples: steadier than
   * wall-clock time when other processes share the cores, and equal to it for single-threaded kernels
   * on an idle machine.
   */
  cpuGflops: Record<MatmulSystem, number>;
  /** Pico's default kernel over tfjs-wasm (> 1: Pico is faster). */
  picoOverTfjs: number;
  /** Pico's WebAssembly kernel on one thread over tfjs-wasm (which runs on one). */
  picoOneThreadOverTfjs: number;
  /** Pico's default kernel over its plain reference kernel. */
  picoOverReference: number;
  /** Largest |Pico − tfjs| over the largest |tfjs| entry, from one product of each. */
  relativeDifference: number;
}

export interface MatmulBenchOptions {
  /** Timed rounds per shape and system (median reported); at least 3 for a meaningful median. */
  rounds?: number;
  /** Approximate length of one timed sample in milliseconds. */
  sampleMs?: number;
  /** Untimed warm-up per shape and system, in milliseconds. */
  warmupMs?: number;
  /** Restricts the run to these shapes (default: all of `MATMUL_SHAPES`). */
  shapes?: readonly MatmulShape[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /**
   * Threads Pico's default GEMM may use, the calling one included (default 1): products of at least
   * 4 MFLOP split across them (`enableThreads`). tfjs-wasm's threads never start under Node.
   */
  threads?: number;
}

const shape = (name: string, m: number, n: number, k: number, transA = false, transB = false): MatmulShape => ({ name, m, n, k, transA, transB });

/**
 * The two headline shapes, then the reference network's training step at batch 64 with
 * convolutions as one im2col GEMM over the batch (as TensorFlow.js lowers them), then the per-image
 * products Pico's conv2d issues (W[outC, taps] · cols[taps, oH·oW]).
 */
export const MATMUL_SHAPES: readonly MatmulShape[] = [
  shape("square 256", 256, 256, 256),
  shape("[4096,200]x[200,16] (conv2 fwd, batched)", 4096, 16, 200),
  shape("conv1 fwd, batched im2col", 64 * 24 * 24, 8, 25),
  shape("conv1 dW, batched", 8, 25, 64 * 24 * 24, true, false),
  shape("conv2 dX, batched", 64 * 8 * 8, 200, 16, false, true),
  shape("conv2 dW, batched", 200, 16, 64 * 8 * 8, true, false),
  shape("fc1 fwd x.W^T", 64, 120, 256, false, true),
  shape("fc1 dX", 64, 256, 120),
  shape("fc1 dW", 120, 256, 64, true, false),
  shape("fc2 fwd x.W^T", 64, 10, 120, false, true),
  shape("fc2 dX", 64, 120, 10),
  shape("fc2 dW", 10, 120, 64, true, false),
  shape("conv1 fwd, per image", 8, 24 * 24, 25),
  shape("conv1 dW, per image", 8, 25, 24 * 24, false, true),
  shape("conv2 fwd, per image", 16, 8 * 8, 200),
  shape("conv2 dX, per image", 200, 8 * 8, 16, true, false),
  shape("conv2 dW, per image", 16, 200, 8 * 8, false, true),
];

/**
 * Timed rounds per shape by default: the products take well under a millisecond, so single samples
 * swing by a quarter on this machine (the same kernel timed as "pico" and "pico 1t" below 4 MFLOP
 * differed by that much over 3 rounds).
 */
export const MATMUL_ROUNDS = 5;

const SYSTEMS: readonly MatmulSystem[] = ["pico", "pico-1-thread", "pico-reference", "tfjs-wasm"];

/** A timed callable: runs the product `reps` times and returns a checksum so no call can be skipped. */
type Runner = (reps: number) => number;

interface Prepared {
  runners: Record<MatmulSystem, Runner>;
  relativeDifference: number;
  dispose(): void;
}

function randomMatrix(rng: Generator, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.random() * 2 - 1;
  return out;
}

function prepare(s: MatmulShape, seed: number): Prepared {
  const { m, n, k, transA, transB } = s;
  const rng = new Generator(seed);
  const aData = randomMatrix(rng, m * k);
  const bData = randomMatrix(rng, k * n);
  const a: kernels.MatrixView = { data: aData, offset: 0, ld: transA ? m : k, trans: transA };
  const b: kernels.MatrixView = { data: bData, offset: 0, ld: transB ? k : n, trans: transB };
  // Each call allocates its output and frees it, as tf.matMul and dispose do: from Pico's buffer pool
  // (where its operators allocate) and back to it, as tfjs from and to its wasm heap.
  const picoRunner =
    (kernel: kernels.Gemm): Runner =>
    (reps) => {
      let checksum = 0;
      for (let r = 0; r < reps; r++) {
        const out = kernels.allocate("float32", m * n) as Float32Array;
        kernel(m, n, k, a, b, { data: out, offset: 0, ld: n }, false);
        checksum += out[0]!;
        kernels.recycle(out);
      }
      return checksum;
    };
  const ta = tf.tensor2d(aData, transA ? [k, m] : [m, k]);
  const tb = tf.tensor2d(bData, transB ? [n, k] : [k, n]);
  const tfRunner: Runner = (reps) => {
    let last = 0;
    for (let r = 0; r < reps; r++) {
      const c = tf.matMul(ta, tb, transA, transB);
      if (r === reps - 1) last = (c.dataSync() as Float32Array)[0]!;
      c.dispose();
    }
    return last;
  };

  const mine = new Float32Array(m * n);
  kernels.gemm(m, n, k, a, b, { data: mine, offset: 0, ld: n }, false);
  const theirs = tf.tidy(() => tf.matMul(ta, tb, transA, transB).dataSync() as Float32Array);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < mine.length; i++) {
    worst = Math.max(worst, Math.abs(mine[i]! - theirs[i]!));
    scale = Math.max(scale, Math.abs(theirs[i]!));
  }
  return {
    runners: { pico: picoRunner(kernels.gemm), "pico-1-thread": picoRunner(kernels.gemmWasm), "pico-reference": picoRunner(kernels.gemmReference), "tfjs-wasm": tfRunner },
    relativeDifference: scale > 0 ? worst / scale : worst,
    dispose: () => {
      ta.dispose();
      tb.dispose();
    },
  };
}

/** Runs `run` for at least `ms` and at least twice; returns seconds per call of the last half. */
function warmUp(run: Runner, ms: number): number {
  const start = performance.now();
  let calls = 0;
  let halfStart = start;
  let halfCalls = 0;
  while (calls < 2 || performance.now() - start < ms) {
    run(1);
    calls++;
    if (calls === 1) halfStart = performance.now();
    else halfCalls++;
  }
  return (performance.now() - halfStart) / 1000 / Math.max(1, halfCalls);
}

/**
 * Matrix-product GFLOP/s of Pico's default GEMM, its plain reference kernel and TensorFlow.js's wasm
 * backend on the benchmark shapes, measured in this process: warm-up first, then `rounds` rounds in
 * which the systems take turns (the order rotating each round), each round one timed sample per system.
 */
export async function runMatmulBench(options: MatmulBenchOptions = {}): Promise<MatmulResult[]> {
  const rounds = options.rounds ?? MATMUL_ROUNDS;
  const sampleMs = options.sampleMs ?? 100;
  const warmupMs = options.warmupMs ?? 120;
  const log = options.log ?? ((): void => {});
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`runMatmulBench: rounds must be an integer >= 1, but got ${rounds}`);
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`runMatmulBench: threads must be an integer >= 1, but got ${threads}`);
  await useTfjsBackend("wasm");
  if (threads > 1 && !(await enableThreads(threads))) throw new Error(`runMatmulBench: could not start ${threads} threads for Pico's GEMM`);
  try {
    return measureShapes(options.shapes ?? MATMUL_SHAPES, rounds, sampleMs, warmupMs, log);
  } finally {
    if (threads > 1) await disableThreads();
  }
}

function measureShapes(shapes: readonly MatmulShape[], rounds: number, sampleMs: number, warmupMs: number, log: (line: string) => void): MatmulResult[] {
  const results: MatmulResult[] = [];
  let seed = 1;
  for (const s of shapes) {
    const flops = 2 * s.m * s.n * s.k;
    const prepared = prepare(s, seed++);
    if (!(prepared.relativeDifference < 1e-4)) {
      prepared.dispose();
      throw new Error(`matmul bench: ${s.name}: Pico and tfjs-wasm disagree (max relative difference ${prepared.relativeDifference})`);
    }
    const reps = {} as Record<MatmulSystem, number>;
    for (const system of SYSTEMS) {
      const perCall = warmUp(prepared.runners[system], warmupMs);
      reps[system] = Math.max(1, Math.round(sampleMs / 1000 / perCall));
    }
    const samples: Record<MatmulSystem, number[]> = { pico: [], "pico-1-thread": [], "pico-reference": [], "tfjs-wasm": [] };
    const cpuSamples: Record<MatmulSystem, number[]> = { pico: [], "pico-1-thread": [], "pico-reference": [], "tfjs-wasm": [] };
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < SYSTEMS.length; i++) {
        const system = SYSTEMS[(i + r) % SYSTEMS.length]!;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        prepared.runners[system](reps[system]);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const cpuSeconds = Math.max(1e-6, (cpu.user + cpu.system) / 1e6);
        samples[system].push((flops * reps[system]) / seconds / 1e9);
        cpuSamples[system].push((flops * reps[system]) / cpuSeconds / 1e9);
      }
    }
    prepared.dispose();
    const medians = (x: Record<MatmulSystem, number[]>): Record<MatmulSystem, number> => ({
      pico: median(x.pico),
      "pico-1-thread": median(x["pico-1-thread"]),
      "pico-reference": median(x["pico-reference"]),
      "tfjs-wasm": median(x["tfjs-wasm"]),
    });
    const gflops = medians(samples);
    const result: MatmulResult = {
      ...s,
      flops,
      gflops,
      rounds: samples,
      cpuGflops: medians(cpuSamples),
      picoOverTfjs: gflops.pico / gflops["tfjs-wasm"],
      picoOneThreadOverTfjs: gflops["pico-1-thread"] / gflops["tfjs-wasm"],
      picoOverReference: gflops.pico / gflops["pico-reference"],
      relativeDifference: prepared.relativeDifference,
    };
    results.push(result);
    log(formatMatmulRow(result));
  }
  return results;
}

/** The kernel `kernels.gemm` currently dispatches to, by function name. */
export function activeGemmName(): string {
  const active = kernels.setGemm(kernels.gemmReference);
  kernels.setGemm(active);
  return active.name || "anonymous";
}

const HEADER = [
  "shape".padEnd(42),
  "m x n x k".padEnd(18),
  "pico".padStart(7),
  "pico 1t".padStart(7),
  "ref".padStart(7),
  "tfjs".padStart(7),
  "pico/tfjs".padStart(10),
  "pico/ref".padStart(9),
].join(" ");

export type MatmulClock = "wall" | "cpu";

function formatMatmulRow(r: MatmulResult, clock: MatmulClock = "wall"): string {
  const dims = `${r.m}x${r.n}x${r.k}${r.transA ? " Aᵀ" : ""}${r.transB ? " Bᵀ" : ""}`;
  const g = clock === "wall" ? r.gflops : r.cpuGflops;
  return [
    r.name.padEnd(42),
    dims.padEnd(18),
    g.pico.toFixed(2).padStart(7),
    g["pico-1-thread"].toFixed(2).padStart(7),
    g["pico-reference"].toFixed(2).padStart(7),
    g["tfjs-wasm"].toFixed(2).padStart(7),
    `${(g.pico / g["tfjs-wasm"]).toFixed(2)}x`.padStart(10),
    `${(g.pico / g["pico-reference"]).toFixed(2)}x`.padStart(9),
  ].join(" ");
}

/**
 * A plain-text table of median GFLOP/s per shape: Pico's default kernel, its reference kernel and
 * tfjs-wasm, from wall-clock time (default) or from CPU time.
 */
export function formatMatmulTable(results: readonly MatmulResult[], clock: MatmulClock = "wall"): string {
  return [HEADER, ...results.map((r) => formatMatmulRow(r, clock))].join("\n");
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const started = performance.now();
  console.log(`matmul GFLOP/s, median of ${MATMUL_ROUNDS} rounds (float32; pico = ${activeGemmName()}, ref = gemmReference)`);
  console.log(HEADER);
  runMatmulBench({ log: (line) => console.log(line) })
    .then((results) => {
      console.log("\nthe same samples timed by the process's CPU time (steadier when the cores are shared):");
      console.log(formatMatmulTable(results, "cpu"));
      const info = tfjsBackendInfo();
      console.log(`tfjs ${tf.version_core}: backend ${info.backend}, SIMD ${info.simd}, threads ${info.threads}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
