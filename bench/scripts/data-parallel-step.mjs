// The reference network's data-parallel training step (DataParallel of @pico/nn, 2 replicas, dp.trainStep
// with Adam) beside the one-thread steps it is made of, from the same process and the same batch:
//
//   pnpm turbo run build --filter=@pico/bench...
//   timeout 300 flock /tmp/bench.lock setsid -w bash -c 'echo -20 > /proc/self/autogroup; exec nice -n -20 \
//     node bench/scripts/data-parallel-step.mjs [--steps 300] [--warmup 400] [--rounds 3]'
//
// (A session of its own at autogroup niceness -20, as the bench gives its workers: where the kernel groups
// processes by session, `nice` alone leaves the script one session's share of the cores beside others'.
// Run with nice alone beside other sessions' work, its one-thread steps took 10.5 ms instead of 5.5.)
//
// Each round times --steps steps of each kind in turn (alternating, so that a slow stretch of the machine
// lands on every kind): one thread on the 64-row batch, one thread on its first 32 rows (a shard), and the
// data-parallel step on the 64 rows; the one-thread steps' Adam update (optimizer.step()) is timed on its
// own too. Printed per kind: median, mean, 90th percentile and mean / median over every round's steps,
// and the steps over 1.5 times the median: their share, and what they add to the mean (their excess over
// the median, per step).
// Then what they say about the data-parallel step:
// - the shard's share: a 32-row step over a 64-row one (the data-parallel step can be no faster than a
//   shard's forward and backward and half the update);
// - the ideal data-parallel step, a 32-row step less half its update (each replica updates half), and
//   the one-thread step over it: the speedup if combining the gradients, the waits and the glue were free;
// - the speedup by medians and by means (the bench's img/s is a mean: 64 images over the mean step);
// - the data-parallel step's overhead by medians: its median less the ideal step's.
// One-thread steps train a model of their own (ordinary memory, as the bench's `pico 1t`); the
// data-parallel one a copy with the same initial weights. The replicas are this script in worker threads.
// Reads the built packages (dist): build first. Timing: wrap it in the bench lock.
import { Worker, isMainThread } from "node:worker_threads";
import { parseArgs } from "node:util";
import { Generator, Tensor, tensor } from "@pico/core";
import { CrossEntropyLoss, referenceCnn } from "@pico/nn";
import { Adam } from "@pico/optim";

if (!isMainThread) {
  const { serveReplica } = await import("@pico/nn/data-parallel");
  serveReplica(() => ({ model: referenceCnn(), loss: new CrossEntropyLoss() }));
  // Served until the calling thread stops it: the rest of this script is the calling thread's.
  await new Promise(() => {});
}

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "300" },
    warmup: { type: "string", default: "400" },
    rounds: { type: "string", default: "3" },
  },
});
const positive = (name) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`data-parallel-step: --${name} must be a positive integer, got ${values[name]}`);
    process.exit(2);
  }
  return value;
};
const steps = positive("steps");
const warmup = positive("warmup");
const rounds = positive("rounds");

const generator = new Generator(7);
const batch = 64;
const x = Tensor.zeros([batch, 1, 28, 28]);
const y = Tensor.zeros([batch]);
for (let i = 0; i < x.size; i++) x.data.data[i] = generator.normal();
for (let i = 0; i < batch; i++) y.data.data[i] = generator.randint(10);
const x32 = tensor(x.data.data.slice(0, (batch / 2) * 784), { shape: [batch / 2, 1, 28, 28] });
const y32 = tensor(y.data.data.slice(0, batch / 2), { shape: [batch / 2] });

const lossFn = new CrossEntropyLoss();
const single = referenceCnn(new Generator(11));
const singleAdam = new Adam(single.parameters(), { lr: 1e-3 });
const model = referenceCnn(new Generator(11));
const adam = new Adam(model.parameters(), { lr: 1e-3 });
const { dataParallel } = await import("@pico/nn/data-parallel");
const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: () => new Worker(new URL(import.meta.url)) });

const times = { "1t 64 rows": [], "1t 32 rows": [], "1t Adam": [], "dp2 64 rows": [] };
const oneThread = (input, target, record) => {
  singleAdam.zeroGrad();
  lossFn.forward(single.forward(input), target).backward();
  const t = performance.now();
  singleAdam.step();
  if (record) times["1t Adam"].push(performance.now() - t);
};
const kinds = [
  ["1t 64 rows", (record) => oneThread(x, y, record)],
  ["1t 32 rows", (record) => oneThread(x32, y32, record)],
  [
    "dp2 64 rows",
    () => {
      adam.zeroGrad();
      dp.trainStep(x, y, adam);
    },
  ],
];
for (const [, step] of kinds) for (let i = 0; i < warmup; i++) step(false);
for (let round = 0; round < rounds; round++) {
  for (const [name, step] of kinds) {
    const list = times[name];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      step(true);
      list.push(performance.now() - t);
    }
  }
}
await dp.close();

const sorted = (list) => [...list].sort((a, b) => a - b);
const median = (list) => sorted(list)[Math.floor(list.length / 2)];
const mean = (list) => list.reduce((a, b) => a + b, 0) / list.length;
const us = (ms) => `${(ms * 1000).toFixed(0).padStart(5)} us`;
console.log(`reference network, batch ${batch}, Adam; ${rounds} rounds of ${steps} steps of each kind after ${warmup} warm-up steps each`);
for (const [name, list] of Object.entries(times)) {
  const s = sorted(list);
  const m = median(list);
  const slow = list.filter((t) => t > 1.5 * m);
  const excess = slow.reduce((a, t) => a + t - m, 0) / list.length;
  console.log(
    `${name.padEnd(12)} median ${us(m)}  mean ${us(mean(list))}  p90 ${us(s[Math.floor(s.length * 0.9)])}  mean/median ${(mean(list) / m).toFixed(3)}  ` +
      `over 1.5x the median: ${((100 * slow.length) / list.length).toFixed(1)}% of steps, ${us(excess)} of the mean`,
  );
}
const m64 = median(times["1t 64 rows"]);
const m32 = median(times["1t 32 rows"]);
const ideal = m32 - median(times["1t Adam"]) / 2;
const mdp = median(times["dp2 64 rows"]);
console.log(`a 32-row step over a 64-row one: ${(m32 / m64).toFixed(3)} (medians)`);
console.log(`ideal dp2 step (a 32-row step less half its Adam): ${us(ideal)}; 1t 64-row step over it ${(m64 / ideal).toFixed(2)}x`);
console.log(`dp2 over 1t: ${(m64 / mdp).toFixed(2)}x by medians, ${(mean(times["1t 64 rows"]) / mean(times["dp2 64 rows"])).toFixed(2)}x by means`);
console.log(`dp2 overhead by medians (its median less the ideal step): ${us(mdp - ideal)}`);
