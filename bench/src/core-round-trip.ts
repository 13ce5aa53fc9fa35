import { Worker } from "node:worker_threads";
import { median } from "./median.js";

// How far apart the machine's cores are, as a thread sees it: two threads hand one shared word back
// and forth. On this 2-vCPU VM it reads ~115 ns (a C ping-pong pinned to the two vCPUs: ~50) while the
// hypervisor keeps both vCPUs on cores that share an L3 cache, and ~330 ns (C: ~320) while they sit on
// different ones (it moves them every few seconds to minutes); 2-thread training then runs ~25% slower,
// because every job a worker computes reads what the calling thread copied in, and the calling thread
// copies its result out.

const SPINNER = `
const { workerData } = require("node:worker_threads");
const word = new Int32Array(workerData);
for (;;) {
  const v = Atomics.load(word, 0);
  if (v < 0) break;
  if ((v & 1) === 1) Atomics.store(word, 0, v + 1);
}
`;

export interface RoundTripOptions {
  /** Timed batches; the result is the median batch, so batches with a preemption in them drop out. */
  batches?: number;
  /** Round trips per batch. */
  perBatch?: number;
  /** Gives up (throws) after this many milliseconds. */
  timeoutMs?: number;
}

/**
 * The median time in nanoseconds of one round trip of a shared word between this thread and a worker
 * thread, both spinning (so that the OS runs them on two cores at once where it has two).
 */
export async function coreRoundTripNs(options: RoundTripOptions = {}): Promise<number> {
  const batches = options.batches ?? 101;
  const perBatch = options.perBatch ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const shared = new SharedArrayBuffer(4);
  const word = new Int32Array(shared);
  const worker = new Worker(SPINNER, { eval: true, workerData: shared });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once("online", () => resolve());
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`coreRoundTripNs: the worker thread exited (code ${code}) before it started`)));
    });
    const deadline = performance.now() + timeoutMs;
    const times: number[] = [];
    let v = 0;
    // One untimed batch first: the worker's loop and this one get compiled before timing.
    for (let b = -1; b < batches; b++) {
      const start = performance.now();
      for (let i = 0; i < perBatch; i++) {
        Atomics.store(word, 0, v + 1);
        for (let spins = 0; Atomics.load(word, 0) !== v + 2; spins++) {
          if ((spins & 0xfffff) === 0xfffff && performance.now() > deadline) throw timedOut(timeoutMs);
        }
        v += 2;
      }
      const end = performance.now();
      if (b >= 0) times.push(((end - start) * 1e6) / perBatch);
      if (end > deadline) throw timedOut(timeoutMs);
    }
    return median(times);
  } finally {
    Atomics.store(word, 0, -1);
    await worker.terminate();
  }
}

/** The round trips took longer than allowed: the two threads could not run at once. */
export class RoundTripTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`coreRoundTripNs: the round trips did not finish within ${timeoutMs} ms (the worker thread answered too slowly or not at all)`);
    this.name = "RoundTripTimeout";
  }
}

function timedOut(timeoutMs: number): Error {
  return new RoundTripTimeout(timeoutMs);
}
