// Training speed of the page on 1 and 2 threads in headless Chromium, in alternating rounds (the machine
// drifts): builds the page, serves it cross-origin isolated on 127.0.0.1, trains for a few seconds per
// round and reads the page's images/s (training steps only). Prints each round, with the cores other processes
// took while each run was measured (this machine is shared) and the cores' round trip before/after the run
// (coreRoundTripNs below: read every 2-thread figure against it), and the medians.
//   node apps/mnist-web/scripts/measure-threads.mjs [--rounds 5] [--seconds 8] [--max-warmup 0] [--threads 1,2,2k,1x2] [--nice=-20] [--cpu] [--js-flags=...]
// Each run trains 2 s before its speed is read for --seconds - 2 s. With --max-warmup S, the warm-up goes on
// (a reading a second) until neither of the last two readings is 3% faster than the fastest before them, at
// most S s, as the bench warms up until steady: the kernel threads reach their speed later than one thread.
// --threads lists the runs of a round: N trains on N threads data-parallel (one model replica per thread,
// ?threads=N&parallel=data), Nk on N threads with one model whose kernels split across them (the page's
// default, ?threads=N&parallel=kernels), NcR data-parallel with the batch in chunks of at most R rows claimed
// by whichever replica is free (?chunk-rows=R), 1x2 two pages at once on 1 thread each (their images/s added:
// what the machine gives two trainings that never wait for each other). Each is compared with 1.
// --cpu prints, per round, the CPU time of Chromium's busiest threads over the measured seconds (by
// thread name, those above 0.01 of a core: the page's Workers, V8's helpers "ThreadPoolForeg", the
// renderer's main thread "chromium", its compositor).
// --js-flags passes V8 flags to Chromium (e.g. "--no-liftoff"), to find out what a V8 setting is worth.
// --nice runs Chromium's threads at that niceness (below 0 needs root), as the bench's --nice does its
// workers: Chromium sets its renderers' niceness itself, so every thread of every Chromium process is
// reniced once the page's workers run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { build, preview } from "vite";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, seconds: { type: "string", default: "8" }, "max-warmup": { type: "string", default: "0" }, threads: { type: "string", default: "1,2" }, nice: { type: "string" }, cpu: { type: "boolean", default: false }, "js-flags": { type: "string" } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
/** The runs of a round: "2" (data-parallel), "2c16" (data-parallel in chunks of 16 rows), "2k" (kernel threads), "1", "1x2" (two pages at once). */
const runs = values.threads.split(",").map((spec) => {
  const m = /^([1-9][0-9]?)(k|c[1-9][0-9]?)?(?:x([2-9]))?$/.exec(spec);
  if (m === null) return null;
  const threads = Number(m[1]);
  const parallel = threads === 1 ? "none" : m[2] === "k" ? "kernels" : "data";
  const chunks = m[2]?.startsWith("c") ? `&chunk-rows=${m[2].slice(1)}` : "";
  return { spec, threads, parallel, pages: Number(m[3] ?? 1), query: `threads=${threads}${threads === 1 ? "" : m[2] === "k" ? "&parallel=kernels" : `&parallel=data${chunks}`}` };
});
const nice = values.nice === undefined ? null : Number(values.nice);
const maxWarmup = Number(values["max-warmup"]);
if (!(rounds >= 1 && seconds >= 3 && maxWarmup >= 0 && runs.every((r) => r !== null) && (nice === null || (Number.isInteger(nice) && nice >= -20 && nice <= 19)))) {
  console.error("measure-threads: --rounds >= 1, --seconds >= 3, --max-warmup >= 0, --threads a list of thread counts 1-99, each with k for kernel threads, cN for data-parallel in chunks of N rows, or xP for P pages at once (e.g. 1,2,2k,2c16,1x2), and --nice an integer -20..19");
  process.exit(2);
}

const app = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "mnist-web-measure-"));
const outDir = join(work, "dist");
const configFile = join(app, "vite.config.ts");
await build({ configFile, logLevel: "error", build: { outDir } });
const server = await preview({ configFile, logLevel: "error", build: { outDir }, preview: { port: 0, strictPort: false } });
const base = server.resolvedUrls.local[0];
const context = await chromium.launchPersistentContext(join(work, "profile"), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...(values["js-flags"] ? [`--js-flags=${values["js-flags"]}`] : [])],
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The pids of every process descending from this one (Chromium's). */
function descendants() {
  const parents = new Map();
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      parents.set(pid, readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]);
    } catch {
      // The process ended meanwhile.
    }
  }
  const mine = new Set([String(process.pid)]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (mine.has(pid) || !mine.has(parent)) continue;
      mine.add(pid);
      grew = true;
    }
  }
  mine.delete(String(process.pid));
  return [...mine];
}

/** Every thread of every process descending from this one (Chromium's), at niceness `nice`. */
function reniceDescendants(nice) {
  const threads = descendants().flatMap((pid) => {
    try {
      return readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  });
  if (threads.length > 0) execFileSync("renice", ["-n", String(nice), "-p", ...threads], { stdio: "ignore" });
}

const TICKS_PER_SECOND = 100;

/** CPU ticks (user + system) of every thread of Chromium's processes, by "pid/tid name". */
function threadTicks() {
  const ticks = new Map();
  for (const pid of descendants()) {
    let tids = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks.set(`${pid}/${tid} ${name}`, Number(fields[11]) + Number(fields[12]));
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return ticks;
}

/** CPU ticks of the whole machine: busy (user, nice, system, irq, softirq) and stolen by the hypervisor. */
function machineTicks() {
  const [user, niced, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + niced + system + irq + softirq, steal };
}

/** CPU ticks (user + system) of this process and Chromium's, all their threads. */
function ourTicks() {
  let ticks = 0;
  for (const pid of [String(process.pid), ...descendants()]) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks;
}

/** The busiest threads between two threadTicks snapshots, as "name cores" (CPU seconds per second). */
function busiest(before, after, elapsed) {
  return [...after]
    .map(([key, t]) => [key.replace(/^\S+ /, ""), (t - (before.get(key) ?? 0)) / TICKS_PER_SECOND / elapsed])
    .filter(([, cores]) => cores >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, cores]) => `${name} ${cores.toFixed(2)}`)
    .join(", ");
}

async function openPage(run) {
  const page = await context.newPage();
  await page.goto(`${base}?${run.query}`);
  await page.waitForFunction(() => !document.querySelector("[data-testid=train-toggle]").disabled, null, { timeout: 60_000 });
  const kernels = page.getByTestId("kernels");
  const [running, parallel] = [await kernels.getAttribute("data-threads"), await kernels.getAttribute("data-parallel")];
  if (Number(running) !== run.threads || parallel !== run.parallel) {
    throw new Error(`measure-threads: asked for ${run.threads} threads (${run.parallel}), the page runs ${running} (${parallel}): ${await kernels.textContent()}`);
  }
  return page;
}

/** Median of the pages' images/s (added up when several train at once), read once a second after 2 s of warm-up. */
async function trainingSpeed(run) {
  const pages = [];
  for (let p = 0; p < run.pages; p++) pages.push(await openPage(run));
  if (nice !== null) reniceDescendants(nice);
  const roundTrip = await coreRoundTripNs(pages[0]);
  for (const page of pages) await page.getByTestId("train-toggle").click();
  await pages[0].waitForTimeout(2000);
  const warmup = await warmUp(pages);
  const readings = [];
  const ticks = values.cpu ? threadTicks() : null;
  const [machine, ours] = [machineTicks(), ourTicks()];
  const started = performance.now();
  for (let s = 0; s < seconds - 2; s++) {
    await pages[0].waitForTimeout(1000);
    readings.push(await speedOf(pages));
  }
  const elapsed = (performance.now() - started) / 1000;
  if (ticks !== null) console.log(`  ${run.spec} CPU (cores): ${busiest(ticks, threadTicks(), elapsed)}`);
  const [machineAfter, oursAfter] = [machineTicks(), ourTicks()];
  // What the rest of the machine took meanwhile: the cores this run could not have.
  const others = Math.max(0, machineAfter.busy - machine.busy - (oursAfter - ours)) / TICKS_PER_SECOND / elapsed;
  const steal = (machineAfter.steal - machine.steal) / TICKS_PER_SECOND / elapsed;
  for (const page of pages) await page.getByTestId("train-toggle").click();
  const roundTripAfter = await coreRoundTripNs(pages[0]);
  for (const page of pages) await page.close();
  return { speed: median(readings), others, steal, warmup, roundTrip: [roundTrip, roundTripAfter] };
}

/**
 * How far apart the machine's two cores are as the page's threads see them (the bench's probe, in
 * the browser): the median round trip in ns of a shared word between the page's main thread and a
 * spinning Web Worker, 101 batches of 1,000; null where the two could not run at once within 2 s. On
 * this repository's 2-vCPU VM it reads ~115 ns while the hypervisor keeps both vCPUs on cores sharing
 * an L3 and ~330 ns otherwise, and every 2-thread figure moves with it (bench/src/core-round-trip.ts).
 */
function coreRoundTripNs(page) {
  return page.evaluate(async () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    const spinner = `onmessage = (e) => { const w = new Int32Array(e.data); postMessage(0); for (;;) { const v = Atomics.load(w, 0); if (v < 0) break; if ((v & 1) === 1) Atomics.store(w, 0, v + 1); } };`;
    const url = URL.createObjectURL(new Blob([spinner], { type: "text/javascript" }));
    const worker = new Worker(url);
    try {
      await new Promise((resolve) => {
        worker.onmessage = resolve;
        worker.postMessage(word.buffer);
      });
      const deadline = performance.now() + 2000;
      const times = [];
      let v = 0;
      for (let b = -1; b < 101; b++) {
        const start = performance.now();
        for (let i = 0; i < 1000; i++) {
          Atomics.store(word, 0, v + 1);
          for (let spins = 0; Atomics.load(word, 0) !== v + 2; spins++) if ((spins & 0xffff) === 0xffff && performance.now() > deadline) return null;
          v += 2;
        }
        if (b >= 0) times.push(((performance.now() - start) * 1e6) / 1000);
      }
      times.sort((a, b) => a - b);
      return Math.round(times[50]);
    } finally {
      Atomics.store(word, 0, -1);
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  });
}

/** The pages' images/s added up. */
async function speedOf(pages) {
  const speeds = await Promise.all(pages.map((page) => page.getByTestId("speed").evaluate((e) => Number(e.dataset.value))));
  return speeds.reduce((a, b) => a + b, 0);
}

/** With --max-warmup, trains on until the speed is steady (see the top); returns the seconds of training before the measurement. */
async function warmUp(pages) {
  const readings = [];
  const steady = () => readings.length >= 3 && Math.max(...readings.slice(-2)) < 1.03 * Math.max(...readings.slice(0, -2));
  while (readings.length < maxWarmup && !steady()) {
    await pages[0].waitForTimeout(1000);
    readings.push(await speedOf(pages));
  }
  return 2 + readings.length;
}

const results = new Map(runs.map((r) => [r.spec, []]));
/** Each run's cores taken by other processes while it was measured. */
const othersAll = [];
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    const line = [];
    for (const run of order) {
      const { speed, others, steal, warmup, roundTrip } = await trainingSpeed(run);
      results.get(run.spec).push(speed);
      othersAll.push(others);
      line.push(`${run.spec} ${Math.round(speed)} (${maxWarmup > 0 ? `after ${warmup} s, ` : ""}others ${others.toFixed(2)}${steal >= 0.01 ? `, stolen ${steal.toFixed(2)}` : ""}, cores' round trip ${roundTrip.map((ns) => (ns === null ? "not measured" : `${ns} ns`)).join("/")})`);
    }
    console.log(`round ${round + 1}: ${line.join(", ")} img/s`);
  }
} finally {
  await context.close();
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
const medians = runs.map((r) => [r, median(results.get(r.spec))]);
console.log(`other processes took ${median(othersAll).toFixed(2)} cores (median of the runs; max ${Math.max(...othersAll).toFixed(2)})`);
console.log(`medians: ${medians.map(([r, m]) => `${r.spec} ${Math.round(m)}`).join(", ")} img/s`);
const one = medians.find(([r]) => r.threads === 1 && r.pages === 1)?.[1];
const how = (r) => (r.pages > 1 ? `${r.pages} pages at once, ${r.threads} thread${r.threads === 1 ? "" : "s"} each` : `${r.threads} threads (${r.parallel === "data" ? `data-parallel${r.query.includes("chunk-rows=") ? `, chunks of ${r.query.split("chunk-rows=")[1]} rows` : ""}` : "kernel threads"})`);
if (one !== undefined) for (const [r, m] of medians) if (r.threads !== 1 || r.pages !== 1) console.log(`${r.spec}: ${how(r)} / 1 thread: ${(m / one).toFixed(2)}x`);
