import { kernelsChanged } from "../registry.js";
import { routeElementwiseThreads } from "./elementwise-wasm.js";
import { routeOptimizerThreads } from "./optimizer-wasm.js";
import { OWN_KIND, checkThreads, joinWasmThreads, leaveWasmThreads, publishThreadJobs } from "./shared-wasm-threads.js";
import { ADAM_STEP, ELEMENTWISE_JOB } from "./thread-job-kinds.js";
import type { WasmThreads } from "./shared-wasm-threads.js";
import { awaitJob, awaitJobs, claimJob, claimJobs, jobFinished, markReady } from "./thread-pool.js";

// Node only (worker_threads, Atomics.wait on the calling thread): the batch-norm, ReLU and pooling
// kernels' side of the threads the convolution and the GEMM share (shared-wasm-threads.ts).

/** An optimizer job (kind, then the export's arguments) on the calling thread's instance. */
function runOptimizerJob(t: WasmThreads, j: number[]): void {
  if (j[0] === ADAM_STEP) t.exports.adamStep(j[1]!, j[2]!, j[3]!, j[4]!, j[5]!, j[6]!, j[7]!, j[8]!);
  else t.exports.sgdStep(j[1]!, j[2]!, j[3]!, j[4]!, j[5]!, j[6]!);
}

function route(t: WasmThreads | null): void {
  routeOptimizerThreads(
    t === null
      ? null
      : {
          exports: t.exports,
          memory: t.memory,
          threads: t.threads,
          run: (jobs) => {
            publishThreadJobs(t, OWN_KIND, jobs);
            const error = claimJobs(t.pool, jobs.length, (j) => runOptimizerJob(t, jobs[j]!));
            awaitJobs(t.pool, jobs.length, (who) => `optimizer step: ${who} trapped while updating its share of a parameter`, error);
          },
        },
  );
  routeElementwiseThreads(
    t === null
      ? null
      : {
          exports: t.exports,
          memory: t.memory,
          threads: t.threads,
          launch: (jobs, copied) => {
            // All ready at once where nothing is copied in, so that each thread starts from its own end of the table (thread-pool.ts).
            publishThreadJobs(t, ELEMENTWISE_JOB, jobs, jobs.length, copied ? 0 : jobs.length);
            return {
              ready: (count) => markReady(t.pool, count),
              finish: (run, done) => {
                // Every job must run (a worker may be waiting for it) before the table closes.
                markReady(t.pool, jobs.length);
                // Results leave in order as soon as they are in, and the calling thread computes a job itself only
                // while the next result is not in: its copies out (the serial part) overlap the workers' computing
                // instead of following it.
                let error: unknown = null;
                let next = 0;
                try {
                  while (next < jobs.length) {
                    if (jobFinished(t.pool, next)) done(next++);
                    else if (!claimJob(t.pool, jobs.length, run, (e) => (error ??= e))) {
                      awaitJob(t.pool, next);
                      done(next++);
                    }
                  }
                } finally {
                  awaitJobs(t.pool, jobs.length, (who) => `elementwise kernels: ${who} trapped while computing its share`, error);
                }
              },
            };
          },
        },
  );
  kernelsChanged();
}

/**
 * Has the batch-norm, ReLU and 2×2 max-pooling kernels (and the optimizers' updates of large resident
 * parameters) split large calls across `threads` threads, the
 * calling one included, sharing the workers and memory of the convolution and the GEMM (started here if
 * none run, restarted for all if they run with another count). Resolves false where WebAssembly SIMD,
 * shared memory or workers are missing.
 */
export async function installWasmElementwiseThreads(options: { threads?: number } = {}): Promise<boolean> {
  const threads = options.threads ?? 2;
  checkThreads("installWasmElementwiseThreads", threads);
  return joinWasmThreads("elementwise", threads, route);
}

/** The kernels run on the calling thread again; the workers stop unless another user still has them. */
export async function stopWasmElementwiseThreads(): Promise<void> {
  await leaveWasmThreads("elementwise");
}
