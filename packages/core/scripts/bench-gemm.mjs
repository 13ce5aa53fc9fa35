// GFLOP/s of the GEMM kernels on the reference network's shapes, from the built dist/ (run
// `pnpm --filter @pico/core build` first). Medians of short timed runs; the machine is shared.
//   node packages/core/scripts/bench-gemm.mjs [--rounds 5] [--ms 150] [--clock wall|cpu]
// `--clock cpu` divides by this process's CPU time instead of wall time: steadier on a loaded machine,
// but meaningless for the threaded kernel (it adds up both threads).
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";

const dist = new URL("../dist/kernels/", import.meta.url);
const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, ms: { type: "string", default: "150" }, clock: { type: "string", default: "wall" } } });
const rounds = Number(values.rounds);
const budgetMs = Number(values.ms);

const { gemmReference } = await import(new URL("gemm.js", dist).href);
const { gemmWasm, wasmAvailable } = await import(new URL("wasm/gemm-wasm.js", dist).href);
const kernels = { reference: gemmReference };
const packedFile = new URL("gemm-packed.js", dist);
if (existsSync(packedFile)) {
  const packed = await import(packedFile.href);
  if (typeof packed.gemmPacked === "function") kernels.packed = packed.gemmPacked;
}
if (wasmAvailable()) kernels.wasm = gemmWasm;
const threads = await import(new URL("wasm/gemm-wasm-threads.js", dist).href);
if (await threads.installWasmGemmThreads({ threads: 2 })) kernels["wasm 2 threads"] = threads.gemmWasmThreaded;

// [label, m, n, k, transA, transB]
const shapes = [
  ["256x256x256", 256, 256, 256, false, false],
  ["256x256x256 A^T", 256, 256, 256, true, false],
  ["256x256x256 B^T", 256, 256, 256, false, true],
  ["[4096,200]x[200,16]", 4096, 16, 200, false, false],
  ["[4096,200]x[200,16] B^T", 4096, 16, 200, false, true],
  ["[200,4096]x[4096,16] A^T", 200, 16, 4096, true, false],
  ["[36864,25]x[25,8]", 36864, 8, 25, false, false],
  ["[36864,25]x[25,8] B^T", 36864, 8, 25, false, true],
  ["[25,36864]x[36864,8] A^T", 25, 8, 36864, true, false],
  ["[64,256]x[256,120]", 64, 120, 256, false, false],
  ["[64,256]x[256,120] B^T", 64, 120, 256, false, true],
  ["[256,64]x[64,120] A^T", 256, 120, 64, true, false],
  ["[8,36864]x[36864,25] A^T", 8, 25, 36864, true, false],
  ["[16,4096]x[4096,200] A^T", 16, 200, 4096, true, false],
  ["[4096,16]x[16,200]", 4096, 200, 16, false, false],
  ["[120,64]x[64,256] A^T", 120, 256, 64, true, false],
  ["[64,120]x[120,256]", 64, 256, 120, false, false],
  // @pico/nn's conv2d per image (W·cols, Wᵀ·G, G·colsᵀ) and per batch of 64 images.
  ["conv1 [8,25]x[25,576]", 8, 576, 25, false, false],
  ["conv1 dW [8,576]x[576,25] B^T", 8, 25, 576, false, true],
  ["conv2 [16,200]x[200,64]", 16, 64, 200, false, false],
  ["conv2 dX [200,16]x[16,64] A^T", 200, 64, 16, true, false],
  ["conv2 dW [16,64]x[64,200] B^T", 16, 200, 64, false, true],
  ["conv1 [8,25]x[25,36864]", 8, 36864, 25, false, false],
  ["conv1 dW [8,36864]x[36864,25] B^T", 8, 25, 36864, false, true],
  ["conv2 [16,200]x[200,4096]", 16, 4096, 200, false, false],
  ["conv2 dX [200,16]x[16,4096] A^T", 200, 4096, 16, true, false],
  ["conv2 dW [16,4096]x[4096,200] B^T", 16, 200, 4096, false, true],
];

function random(length) {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.random() - 0.5;
  return out;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const clock = values.clock === "cpu" ? cpuMs : () => performance.now();

function timeOnce(kernel, args) {
  let reps = 0;
  const wallStart = performance.now();
  const start = clock();
  do {
    kernel(...args);
    reps++;
  } while (performance.now() - wallStart < budgetMs);
  return (clock() - start) / reps;
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const names = Object.keys(kernels);
console.log(["shape", ...names.map((n) => `${n} GFLOP/s`)].join(" | "));
for (const [label, m, n, k, ta, tb] of shapes) {
  const a = { data: random(m * k), offset: 0, ld: ta ? m : k, trans: ta };
  const b = { data: random(k * n), offset: 0, ld: tb ? k : n, trans: tb };
  const c = { data: new Float32Array(m * n), offset: 0, ld: n };
  const args = [m, n, k, a, b, c, false];
  const times = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) kernels[name](...args);
  for (let r = 0; r < rounds; r++) for (const name of names) times[name].push(timeOnce(kernels[name], args));
  const gflops = names.map((name) => ((2 * m * n * k) / (median(times[name]) * 1e6)).toFixed(2));
  console.log([label, ...gflops].join(" | "));
}
await threads.stopWasmGemmThreads();
