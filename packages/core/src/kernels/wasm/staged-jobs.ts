import type { Target } from "./elementwise-wasm.js";

/**
 * Runs elementwiseJob jobs ([kind, ...arguments], one per block of a call): on the calling thread block by
 * block (copy in, compute, copy out), or staged on `t`'s threads (every copy in on the calling thread, in
 * order, each job open to the workers once its block is in; then each block copied out once done). Null
 * copyIn / copyOut: the operands or results are in place (resident storage).
 */
export function runStagedJobs(t: Target, jobs: number[][], copyIn: ((k: number) => void) | null, copyOut: ((k: number) => void) | null): void {
  const e = t.exports;
  const call = (j: number[]): void => e.elementwiseJob(j[0]!, j[1]!, j[2]!, j[3]!, j[4]!, j[5]!, j[6]!, j[7]!, j[8]!, j[9]!, j[10]!, j[11]!, j[12]!, j[13]!, j[14] ?? 0);
  if (t.threads === null || jobs.length < 2) {
    for (let k = 0; k < jobs.length; k++) {
      copyIn?.(k);
      call(jobs[k]!);
      copyOut?.(k);
    }
    return;
  }
  const open = t.threads.launch(jobs, copyIn !== null);
  try {
    if (copyIn !== null) {
      for (let k = 0; k < jobs.length; k++) {
        copyIn(k);
        open.ready(k + 1);
      }
    }
  } finally {
    open.finish((k) => call(jobs[k]!), copyOut ?? (() => undefined));
  }
}
