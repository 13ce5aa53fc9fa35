// Where each thread of the page spends its time while it trains: builds the page (not minified, so that
// functions keep their names), trains it in headless Chromium, records Chromium's trace with V8's sampling
// profiler for --seconds after 4 s of training, and prints each busy thread's functions by their share of
// its samples (self time; "(program)" is time outside JavaScript and WebAssembly, e.g. asleep in
// Atomics.wait). The profiler slows the page (about a third): compare shares, not speeds.
//   node apps/mnist-web/scripts/profile-trace.mjs [--runs 1,2k,2] [--seconds 4] [--top 25] [--events=PREFIX] [--inclusive] [--callers=NAME]
// --runs as measure-threads.mjs's --threads: 1 (one thread), Nk (kernel threads), N (data-parallel).
// --events records Chromium's own trace events instead of V8's samples (garbage collection, the renderer's
// frames, the compositors, V8's helper threads "ThreadPoolForegroundWorker") and prints the longest in
// total, as ms per second of trace with their count and longest, by thread kind; PREFIX (empty for all) keeps the
// lines that start with it (e.g. "DedicatedWorker thread :: V8.GC" for the Workers' collections).
// --inclusive adds each thread's functions by their inclusive share (time in them and what they call: e.g.
// trainStep, collate, backward, the optimizer's step). --callers=NAME prints, per thread, the call chains
// (innermost 4 frames above it) through which samples reached functions named NAME, by their share of the
// thread's samples (inclusive of what NAME calls).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { build, preview } from "vite";
const { values } = parseArgs({ options: { runs: { type: "string", default: "1,2k" }, seconds: { type: "string", default: "4" }, top: { type: "string", default: "25" }, events: { type: "string" }, inclusive: { type: "boolean", default: false }, callers: { type: "string" } } });
/** Chromium's categories for --events: V8's collections, the renderer's and compositors' work, the thread pool's tasks. */
const EVENT_CATEGORIES = ["v8", "disabled-by-default-v8.gc", "devtools.timeline", "toplevel", "blink", "cc", "viz", "v8.wasm", "__metadata"];
const runs = values.runs.split(",");
if (!runs.every((r) => /^[1-9][0-9]?k?$/.test(r)) || !(Number(values.seconds) >= 1) || !(Number(values.top) >= 1)) {
  console.error("profile-trace: --runs a list of 1, Nk (kernel threads) or N (data-parallel), --seconds >= 1, --top >= 1");
  process.exit(2);
}
const app = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "mnist-web-trace-"));
const outDir = join(work, "dist");
const configFile = join(app, "vite.config.ts");
await build({ configFile, logLevel: "error", build: { outDir, minify: false } });
const server = await preview({ configFile, logLevel: "error", build: { outDir }, preview: { port: 0, strictPort: false } });
const base = server.resolvedUrls.local[0];
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
try {
  for (const spec of runs) {
    const q = spec === "1" ? "threads=1" : spec.endsWith("k") ? `threads=${Number.parseInt(spec, 10)}&parallel=kernels` : `threads=${spec}&parallel=data`;
    const page = await browser.newPage();
    await page.goto(`${base}?${q}`);
    await page.waitForFunction(() => !document.querySelector("[data-testid=train-toggle]").disabled, null, { timeout: 60_000 });
    await page.getByTestId("train-toggle").click();
    await page.waitForTimeout(4000);
    const events = values.events !== undefined;
    await browser.startTracing(page, { categories: events ? EVENT_CATEGORIES : ["disabled-by-default-v8.cpu_profiler", "__metadata"] });
    await page.waitForTimeout(Number(values.seconds) * 1000);
    const buffer = await browser.stopTracing();
    const speed = await page.getByTestId("speed").evaluate((e) => Number(e.dataset.value));
    await page.close();
    const trace = JSON.parse(buffer.toString());
    const traceEvents = trace.traceEvents ?? trace;
    const names = new Map(traceEvents.filter((e) => e.name === "thread_name").map((e) => [`${e.pid}/${e.tid}`, e.args.name]));
    if (events) {
      printEvents(spec, speed, traceEvents, names);
      continue;
    }
    const profiles = new Map();
    for (const e of traceEvents) {
      if (e.name !== "ProfileChunk" && e.name !== "Profile") continue;
      const key = `${e.pid}/${e.id}`;
      let p = profiles.get(key);
      if (!p) profiles.set(key, (p = { thread: names.get(`${e.pid}/${e.tid}`) ?? `${e.pid}/${e.tid}`, nodes: new Map(), samples: [], deltas: [] }));
      const cp = e.args?.data?.cpuProfile;
      if (cp?.nodes) for (const n of cp.nodes) p.nodes.set(n.id, n);
      if (cp?.samples) p.samples.push(...cp.samples);
      if (e.args?.data?.timeDeltas) p.deltas.push(...e.args.data.timeDeltas);
    }
    console.log(`== ${spec}: ${Math.round(speed)} img/s`);
    for (const p of profiles.values()) {
      const self = new Map();
      const inclusive = new Map();
      const chains = new Map();
      let total = 0;
      for (let i = 0; i < p.samples.length; i++) {
        const n = p.nodes.get(p.samples[i]);
        const dt = p.deltas[i + 1] ?? 0;
        const name = n ? frameName(n) : "?";
        self.set(name, (self.get(name) ?? 0) + dt);
        total += dt;
        if (!values.inclusive && values.callers === undefined) continue;
        // The sample's stack, innermost first (nodes name their parent by id).
        const stack = [];
        for (let at = n; at !== undefined; at = at.parent === undefined ? undefined : p.nodes.get(at.parent)) stack.push(frameName(at));
        for (const frame of new Set(stack)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + dt);
        if (values.callers === undefined) continue;
        const at = stack.findIndex((frame) => frame.startsWith(`${values.callers} `));
        if (at === -1) continue;
        const chain = stack.slice(at, at + 5).join(" < ");
        chains.set(chain, (chains.get(chain) ?? 0) + dt);
      }
      if (total < 0.3e6) continue;
      const share = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
      const top = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
      console.log(`-- ${p.thread}: ${(total / 1e3).toFixed(0)} ms sampled`);
      for (const [name, us] of top(self)) console.log(`   ${share(us)}  ${name}`);
      if (values.inclusive) {
        console.log(`   inclusive (in the function and what it calls):`);
        for (const [name, us] of top(inclusive)) console.log(`   ${share(us)}  ${name}`);
      }
      if (values.callers !== undefined && chains.size > 0) {
        console.log(`   reaching ${values.callers} (innermost first):`);
        for (const [chain, us] of top(chains)) console.log(`   ${share(us)}  ${chain}`);
      }
    }
  }
} finally { await browser.close(); await server.close(); rmSync(work, { recursive: true, force: true }); }

/** A profile node's function as "name file:line". */
function frameName(n) {
  return `${n.callFrame.functionName || "(anon)"} ${(n.callFrame.url ?? "").split("/").pop()}:${n.callFrame.lineNumber}`;
}

/** --events: the complete events' time by "thread kind :: event", as ms per second of trace (nested events count in each level). */
function printEvents(spec, speed, traceEvents, names) {
  const totals = new Map();
  for (const e of traceEvents) {
    if (e.ph !== "X" || !e.dur) continue;
    const key = `${(names.get(`${e.pid}/${e.tid}`) ?? "?").replace(/\d+$/, "")} :: ${e.name}`;
    const t = totals.get(key) ?? { count: 0, us: 0, longest: 0 };
    t.count++;
    t.us += e.dur;
    t.longest = Math.max(t.longest, e.dur);
    totals.set(key, t);
  }
  const ms = Number(values.seconds) * 1000;
  console.log(`== ${spec}: ${Math.round(speed)} img/s (ms per s of trace, count, longest ms)`);
  const kept = [...totals].filter(([key]) => key.startsWith(values.events)).sort((a, b) => b[1].us - a[1].us).slice(0, Number(values.top));
  for (const [key, t] of kept) console.log(`${(t.us / ms).toFixed(2).padStart(8)}  ${String(t.count).padStart(5)}  ${(t.longest / 1000).toFixed(2).padStart(6)}  ${key}`);
}
