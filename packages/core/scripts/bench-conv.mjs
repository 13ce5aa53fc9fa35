// Per-layer convolution timings of the CIFAR-shaped benchmark network (issue 11) at batch 64, through
// @pico/nn's public conv2d: forward, input gradient alone, weight (+ bias) gradient alone, in ms per
// call. Uses the built dist/ of @pico/core and @pico/nn beside this script (or under `--root DIR`, a
// checkout with the same layout, to compare against another version):
//   pnpm --filter @pico/core --filter @pico/nn build
//   flock /tmp/bench.lock node packages/core/scripts/bench-conv.mjs [--threads 2] [--relaxed] [--rounds 5] [--ms 300] [--batch 64] [--layers conv2,res]
// Layers alternate within each round; medians over the rounds. Prints which kernels ran (kernelInfo).
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    ms: { type: "string", default: "300" },
    batch: { type: "string", default: "64" },
    threads: { type: "string", default: "1" },
    root: { type: "string", default: join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..") },
    layers: { type: "string", default: "" },
    relaxed: { type: "boolean", default: false },
    clock: { type: "string", default: "wall" },
  },
});
const root = values.root;
// `--relaxed` (or --threads > 1) imports @pico/core/threads first, which turns on Node 20's relaxed-SIMD flag.
if (values.relaxed || Number(values.threads) > 1) await import(pathToFileURL(join(root, "packages/core/dist/threads.js")).href);
const core = await import(pathToFileURL(join(root, "packages/core/dist/index.js")).href);
const { F } = await import(pathToFileURL(join(root, "packages/nn/dist/index.js")).href);
const threads = Number(values.threads);
if (threads > 1) {
  const { enableThreads } = await import(pathToFileURL(join(root, "packages/core/dist/threads.js")).href);
  if (!(await enableThreads(threads))) throw new Error(`bench-conv: could not start ${threads} threads`);
}
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const budgetMs = Number(values.ms);

// [name, inChannels, outChannels, size, kernel, stride, padding, groups = 1]: the CIFAR network's six convolutions, then other common shapes.
const all = [
  ["conv1 3->32 32x32 3x3 p1", 3, 32, 32, 3, 1, 1],
  ["conv2 32->32 32x32 3x3 p1", 32, 32, 32, 3, 1, 1],
  ["conv3 32->64 16x16 3x3 p1", 32, 64, 16, 3, 1, 1],
  ["res 64->64 16x16 3x3 p1", 64, 64, 16, 3, 1, 1],
  ["conv6 64->128 8x8 3x3 p1", 64, 128, 8, 3, 1, 1],
  ["3x3 s2 64->128 16x16 p1", 64, 128, 16, 3, 2, 1],
  ["1x1 64->128 16x16", 64, 128, 16, 1, 1, 0],
  ["5x5 p2 32->32 16x16", 32, 32, 16, 5, 1, 2],
  ["7x7 s2 p3 3->64 64x64", 3, 64, 64, 7, 2, 3],
  ["depthwise 3x3 p1 64 32x32", 64, 64, 32, 3, 1, 1, 64],
  ["depthwise 3x3 s2 p1 64 32x32", 64, 64, 32, 3, 2, 1, 64],
];
const wanted = values.layers === "" ? null : values.layers.split(",");
const layers = all.filter(([name]) => wanted === null || wanted.some((w) => name.startsWith(w)));

const gen = new core.Generator(1);
const setups = layers.map(([name, c, o, size, k, stride, padding, groups = 1]) => {
  const x = core.Tensor.randn([batch, c, size, size], { generator: gen });
  const w = core.Tensor.randn([o, c / groups, k, k], { generator: gen }).mul(1 / Math.sqrt((c / groups) * k * k));
  const b = core.Tensor.randn([o], { generator: gen });
  const xg = x.detach();
  xg.requiresGrad = true;
  const wg = w.detach();
  wg.requiresGrad = true;
  const bg = b.detach();
  bg.requiresGrad = true;
  const opts = { stride, padding, groups };
  const y = core.noGrad(() => F.conv2d(x, w, b, opts));
  const gy = core.Tensor.randn(y.shape, { generator: gen });
  const flops = 2 * y.size * (c / groups) * k * k;
  return {
    name, flops,
    forward: () => core.noGrad(() => F.conv2d(x, w, b, opts)),
    input: () => F.conv2d(xg, w, b, opts).backward(gy),
    weight: () => F.conv2d(x, wg, bg, opts).backward(gy),
  };
});

// `--clock cpu` times this process's CPU instead of wall time: steadier on a shared machine, wrong for threads.
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const clock = values.clock === "cpu" ? cpuMs : () => performance.now();

function time(fn) {
  fn();
  let reps = 0;
  const wall = performance.now();
  const start = clock();
  do {
    fn();
    reps++;
  } while (performance.now() - wall < budgetMs);
  return (clock() - start) / reps;
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const results = setups.map(() => ({ forward: [], input: [], weight: [] }));
for (let r = 0; r < rounds; r++) {
  setups.forEach((s, i) => {
    for (const part of ["forward", "input", "weight"]) results[i][part].push(time(s[part]));
  });
}
const info = typeof core.kernelInfo === "function" ? JSON.stringify(core.kernelInfo()) : "(no kernelInfo in this version)";
console.log(`bench-conv: batch ${batch}, ${threads} thread(s), ${values.clock} clock, medians of ${rounds} rounds of ${budgetMs} ms; ${info}`);
console.log("| layer | forward ms | GFLOP/s | input grad ms (incl. forward) | weight grad ms (incl. forward) |");
console.log("|---|---|---|---|---|");
let total = { forward: 0, input: 0, weight: 0 };
setups.forEach((s, i) => {
  const m = { forward: median(results[i].forward), input: median(results[i].input), weight: median(results[i].weight) };
  for (const k of Object.keys(total)) total[k] += m[k];
  console.log(`| ${s.name} | ${m.forward.toFixed(2)} | ${(s.flops / m.forward / 1e6).toFixed(1)} | ${m.input.toFixed(2)} | ${m.weight.toFixed(2)} |`);
});
console.log(`| total | ${total.forward.toFixed(2)} | | ${total.input.toFixed(2)} | ${total.weight.toFixed(2)} |`);
process.exit(0);
