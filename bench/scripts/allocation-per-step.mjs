// JavaScript heap allocated per training step of the benchmark's networks, and where it comes from.
//
//   pnpm turbo run build --filter=@pico/bench...
//   node --expose-gc bench/scripts/allocation-per-step.mjs [--network reference|cifar] [--batch 64]
//        [--steps 300] [--warmup 100] [--threads 1|2] [--replicas 2 [--split]] [--keep-grads]
//        [--profile [--top 25] [--tree profile.heapprofile]]
//
// Bytes per step: the used heap's growth over each step that no garbage collection interrupted (a
// PerformanceObserver of "gc" entries tells which did), median over --steps steps after --warmup, less what
// reading the heap statistics allocates (measured around nothing); JavaScript objects only: a typed array's
// contents outside the heap are not counted, its object (~230 bytes, ~140 for a subarray) is. The
// number of scavenges over those steps is printed too. --profile adds V8's sampling heap profiler (every
// ~64 bytes, objects later collected included) over the same steps and prints the functions that
// allocated the most, by self bytes per step, with their file and line, and the same summed by file;
// --tree also writes the sampled profile (Chrome DevTools opens a .heapprofile: Memory tab, Load).
// --replicas N trains data-parallel instead (DataParallel of @pico/nn/data-parallel, N replicas, each
// step's update through dp.trainStep, or forwardBackward then dp.step with --split; the replicas are this
// script in worker threads): the figures are the calling thread's, and each replica prints its own used-heap
// growth per step (between the starts of two consecutive shards, median over the same steps; a step with a
// collection shows as a drop and is left out), its collections not observed (its thread never idles).
// Reads the built packages (dist): build first. Timing-free, so it needs no lock.
import { PerformanceObserver } from "node:perf_hooks";
import { Worker, isMainThread, workerData } from "node:worker_threads";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import { Generator, Tensor } from "@pico/core";
import { CifarNet, CrossEntropyLoss, referenceCnn } from "@pico/nn";
import { Adam, Momentum } from "@pico/optim";

if (!isMainThread) {
  serveMeasuredReplica();
  // Served until the calling thread stops it: the rest of this script is the calling thread's.
  await new Promise(() => {});
}

const { values } = parseArgs({
  options: {
    network: { type: "string", default: "reference" },
    batch: { type: "string", default: "64" },
    steps: { type: "string", default: "300" },
    warmup: { type: "string", default: "100" },
    threads: { type: "string", default: "1" },
    profile: { type: "boolean", default: false },
    "keep-grads": { type: "boolean", default: false },
    replicas: { type: "string", default: "1" },
    split: { type: "boolean", default: false },
    tree: { type: "string" },
    top: { type: "string", default: "25" },
  },
});
const fail = (message) => {
  console.error(`allocation-per-step: ${message}`);
  process.exit(2);
};
const positive = (name) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer, got ${values[name]}`);
  return value;
};
if (values.network !== "reference" && values.network !== "cifar") fail(`--network must be reference or cifar, got ${values.network}`);
const batch = positive("batch");
const steps = positive("steps");
const warmup = positive("warmup");
const threads = positive("threads");
const top = positive("top");
const replicas = positive("replicas");
if (replicas > 1 && threads > 1) fail("--replicas and --threads cannot be combined (data-parallel replicas run one thread each)");
if (typeof globalThis.gc !== "function") fail("run node with --expose-gc");

if (threads > 1) {
  const { enableThreads } = await import("@pico/core/threads");
  if (!(await enableThreads(threads))) fail(`enableThreads(${threads}) failed`);
}

const generator = new Generator(7);
const reference = values.network === "reference";
const model = reference ? referenceCnn(generator) : new CifarNet({ generator });
const optimizer = reference
  ? new Adam(model.parameters(), { lr: 1e-3 })
  : new Momentum(model.parameters(), { lr: 0.01, momentum: 0.9 });
const lossFn = new CrossEntropyLoss();
const imageShape = reference ? [1, 28, 28] : [3, 32, 32];
const x = Tensor.zeros([batch, ...imageShape]);
const y = Tensor.zeros([batch]);
const xs = x.data.data;
for (let i = 0; i < xs.length; i++) xs[i] = generator.normal();
for (let i = 0; i < batch; i++) y.data.data[i] = generator.randint(10);
model.train();

// --keep-grads: zeroGrad({ setToNone: false }), gradients zero-filled in place instead of new arrays every step.
const zeroGradOptions = values["keep-grads"] ? { setToNone: false } : undefined;
// Data-parallel: the replicas' phase (0 warm-up, 1 measured steps, 2 report), then per replica its median growth and sample count.
const report = new Float64Array(new SharedArrayBuffer(8 * (1 + 2 * replicas)));
let dp = null;
if (replicas > 1) {
  const { dataParallel } = await import("@pico/nn/data-parallel");
  let started = 0;
  dp = await dataParallel(model, new CrossEntropyLoss(), {
    replicas,
    worker: () => new Worker(new URL(import.meta.url), { workerData: { network: values.network, report: report.buffer, replica: ++started } }),
  });
}
function step() {
  optimizer.zeroGrad(zeroGradOptions);
  if (dp !== null) {
    if (values.split) {
      dp.forwardBackward(x, y);
      dp.step(optimizer);
    } else dp.trainStep(x, y, optimizer);
    return;
  }
  const loss = lossFn.forward(model.forward(x), y);
  loss.backward();
  optimizer.step();
}

for (let i = 0; i < warmup; i++) step();

let collections = 0;
let scavenges = 0;
let collectionMs = 0;
// perf_hooks' constants.NODE_PERFORMANCE_GC_*: 1 minor (scavenge), 4 major (mark-compact), 8 incremental marking, 16 weak callbacks.
const KINDS = { 1: "scavenge", 4: "mark-compact", 8: "incremental marking", 16: "weak callbacks" };
const byKind = new Map();
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    collections++;
    collectionMs += entry.duration;
    const kind = KINDS[entry.detail?.kind] ?? `kind ${entry.detail?.kind}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    if (entry.detail?.kind === 1) scavenges++;
  }
});
observer.observe({ entryTypes: ["gc"] });

let session = null;
if (values.profile) {
  session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 0));
report[0] = 1;
collections = 0;
scavenges = 0;
collectionMs = 0;
byKind.clear();
const growth = [];
const externalGrowth = [];
for (let i = 0; i < steps; i++) {
  const externalBefore = process.memoryUsage().arrayBuffers;
  const before = v8.getHeapStatistics().used_heap_size;
  const seen = collections;
  step();
  const after = v8.getHeapStatistics().used_heap_size;
  const externalAfter = process.memoryUsage().arrayBuffers;
  // The observer runs on the event loop: a collection during this step is only seen after a yield.
  await new Promise((resolve) => setImmediate(resolve));
  if (collections === seen) {
    growth.push(after - before);
    externalGrowth.push(externalAfter - externalBefore);
  }
}
observer.disconnect();
report[0] = 2;
// The replicas report at their next shard.
if (dp !== null) step();
// What reading the heap statistics itself allocates (its result object), measured the same way around nothing.
const overhead = [];
for (let i = 0; i < 50; i++) {
  const before = v8.getHeapStatistics().used_heap_size;
  const after = v8.getHeapStatistics().used_heap_size;
  overhead.push(after - before);
}
const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const kb = (bytes) => (bytes / 1024).toFixed(1);

const mode = replicas > 1 ? `${replicas} data-parallel replicas (${values.split ? "forwardBackward, then dp.step" : "dp.trainStep"}; figures of the calling thread)` : `${threads} thread(s)`;
console.log(`${values.network} network, batch ${batch}, ${mode}, ${warmup} warm-up steps then ${steps}${values["keep-grads"] ? ", zeroGrad({ setToNone: false })" : ""}`);
if (growth.length === 0) console.log("every step saw a collection: no clean sample (raise --max-semi-space-size?)");
else {
  const cost = median(overhead);
  console.log(
    `allocated per step: ${kb(median(growth) - cost)} KB (median of ${growth.length} steps without a collection, less ${kb(cost)} KB the measurement ` +
      `itself allocates; min ${kb(Math.min(...growth) - cost)}, max ${kb(Math.max(...growth) - cost)})`,
  );
}
console.log(`typed arrays' contents allocated outside the heap per step: ${kb(median(externalGrowth))} KB (median; these count towards V8's external memory, whose growth starts mark-compacts)`);
const kinds = [...byKind].map(([kind, count]) => `${count} ${kind}`).join(", ") || "none";
console.log(`collections over the ${steps} steps: ${kinds} (${collectionMs.toFixed(1)} ms in all${scavenges > 0 ? `; one scavenge per ${(steps / scavenges).toFixed(1)} steps` : ""})`);

if (session !== null) {
  const { profile } = await session.post("HeapProfiler.stopSampling");
  session.disconnect();
  if (values.tree !== undefined) {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(values.tree, JSON.stringify(profile));
  }
  const byFunction = new Map();
  const byFile = new Map();
  let total = 0;
  // A built-in's allocation (an Array, a Float32Array view, a bound function) is charged to the JavaScript
  // function that called it, named "caller > built-in".
  const walk = (node, caller) => {
    const frame = node.callFrame;
    const builtin = frame.url === "";
    const file = builtin ? (caller?.file ?? "(native)") : frame.url.replace(/^file:\/\/.*?\/(packages|bench|node_modules)\//, "$1/");
    const name = frame.functionName || "(anonymous)";
    const here = builtin ? caller : { key: `${name} ${file}:${frame.lineNumber + 1}`, file };
    const key = builtin ? `${caller?.key ?? "(root)"} > ${name}` : here.key;
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
    byFile.set(file, (byFile.get(file) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, undefined);
  // The profile also holds what the sampling and the loop above allocated; per step it is small.
  console.log(`\nsampled: ${kb(total / steps)} KB per step (sampling is statistical: ±10% on small entries)`);
  const print = (title, map) => {
    console.log(`\n${title}`);
    for (const [key, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      if (bytes === 0) break;
      console.log(`${kb(bytes / steps).padStart(8)} KB  ${key}`);
    }
  };
  print("by function (self bytes per step):", byFunction);
  print("by file:", byFile);
}
for (let r = 1; r < replicas; r++) {
  const samples = report[2 * r + 2];
  console.log(
    samples > 0
      ? `replica ${r}: allocated per step ${kb(report[2 * r + 1])} KB (median of ${samples} steps without a drop, less what reading the heap statistics allocates)`
      : `replica ${r}: no clean sample`,
  );
}
await dp?.close();
if (threads > 1) {
  const { disableThreads } = await import("@pico/core/threads");
  await disableThreads();
}

/**
 * A replica of --replicas: builds the network and serves; its model's forward (one call per shard) samples
 * the used heap while the calling thread measures (report[0] = 1) and writes the median growth between
 * consecutive shards once it says so (2).
 */
async function serveMeasuredReplica() {
  const { serveReplica } = await import("@pico/nn/data-parallel");
  const { network, report: buffer, replica } = workerData;
  const report = new Float64Array(buffer);
  serveReplica(() => {
    const model = network === "cifar" ? new CifarNet() : referenceCnn();
    const forward = model.forward.bind(model);
    const growth = [];
    let last = -1;
    let reported = false;
    const overhead = [];
    for (let i = 0; i < 50; i++) overhead.push(-v8.getHeapStatistics().used_heap_size + v8.getHeapStatistics().used_heap_size);
    model.forward = (input) => {
      const phase = report[0];
      if (phase === 1) {
        const used = v8.getHeapStatistics().used_heap_size;
        if (last >= 0 && used >= last) growth.push(used - last);
        last = used;
      } else if (phase === 2 && !reported) {
        reported = true;
        const sorted = [...growth].sort((a, b) => a - b);
        const cost = [...overhead].sort((a, b) => a - b)[25];
        const r = replica;
        report[2 * r + 1] = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)] - cost : 0;
        report[2 * r + 2] = sorted.length;
      }
      return forward(input);
    };
    return { model, loss: new CrossEntropyLoss() };
  });
}
