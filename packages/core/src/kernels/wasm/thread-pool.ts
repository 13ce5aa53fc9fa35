// Worker threads that share a control block with the calling thread and claim jobs from it, started by
// the launcher an entry installed: worker_threads from the Node entry (node-worker-launcher.ts), Web
// Workers from threads-web.ts. This module names no runtime's API, so any bundle may include it.

// The first Int32 slots of every control block: the job sequence (-1 asks the workers to exit), the
// claim tickets with the open table's tag, the job count, how many jobs finished, a failure flag, how many jobs have their
// input in place (a thread that claims a job beyond waits for it), who sleeps where, then per job the sequence number of
// the last table in which it finished (so that the calling thread can copy a job's result out while
// others still run). Each user lays out its job table after these. Threads claim jobs with Atomics.add
// until none are left, so a worker that the OS schedules late simply gets fewer of them.
//
// What a table costs the calling thread (a job trace of the reference network's 2-thread training step,
// which opens 7 tables: two convolutions' forward and backward, fc1's forward and backward products, fc1's
// Adam update): opening one 0.5 µs, the polling worker's first claim 0.2 µs later, the calling thread's
// wait at the end 1-5 µs and the tail where one thread idles 0-25 µs (medians): 20-55 µs of a 2.6-2.8 ms
// step in all. Waits beyond that are mostly a worker slowed or descheduled inside a job (89-97% of the
// wait time in waits over 30 µs), and the step's serial part is the ~0.4 ms between tables.
import { GIVE_WAY_SOURCE, type GiveWay, GiveWaySpin } from "./give-way.js";

const SEQ = 0;
const NEXT = 1;
const COUNT = 2;
const FINISHED = 3;
const FAILED = 4;
const READY = 5;
/**
 * Workers asleep in Atomics.wait for a new table (SEQ) and for a job's input (READY), and 1 while the
 * calling thread is: a notify (a system call) only when someone sleeps on that slot. Counted apart
 * because a worker being woken for a new table still counts as asleep until it runs again, and each
 * markReady of a staged table would otherwise notify it once more: with a sleeping worker, those futile
 * notifies cost the calling thread 0.1-0.7 ms per convolution on a busy 2-core machine.
 */
const SLEEPING_WORKERS = 6;
const SLEEPING_CALLER = 7;
const SLEEPING_ON_READY = 8;
/**
 * Claims hand out tickets (NEXT, at most COUNT of them); a ticket's job is the next from the front (FRONT:
 * 0, 1, ...) or, for a worker while every job of the table is ready, the next from the back (BACK: the
 * last, then the one before). The calling thread takes the front, so in consecutive tables of the same
 * split (a convolution, the BatchNorm after it, its backward) it takes about the same leading part of the
 * images and a single worker the trailing part: each thread reads mostly what its own core wrote (on two
 * vCPUs without a shared L3, a read of the other core's writes goes across). Tickets keep the two ends from
 * overlapping: f front and b back claims with f + b <= COUNT.
 */
const FRONT = 9;
const BACK = 10;
/**
 * The open table's sequence, stored before NEXT opens it, where SEQ (the workers' wake-up) is stored after:
 * a worker still looping from the last table can claim a job of the next one between the two, and must
 * mark it done with the next table's sequence, not the last one's (the calling thread would wait forever).
 */
const TABLE = 11;
const DONE = 12;
/**
 * Where the workers' wake-up (SEQ), the claim counter (NEXT), the job count (COUNT) and the first job's done
 * mark (DONE) sit in the control block: protocol tests drive a worker and the calling thread through a given
 * interleaving by watching these slots (thread-pool.test.ts).
 */
export const CONTROL_SLOTS = { SEQ, NEXT, COUNT, DONE } as const;
/** Most jobs one table can hold. */
export const MAX_JOBS = 64;
/** The first slot free for the user's own data. */
export const CONTROL_HEADER = DONE + MAX_JOBS;
/** Stored in NEXT between batches of jobs, so that a late worker claims nothing while the table is rewritten. */
const CLOSED = 1 << 30;
/**
 * NEXT holds the open table's tag (its sequence, TAG_MASK of it) above TICKET_BITS of tickets: a table takes
 * fewer than 2^TICKET_BITS claims: MAX_JOBS that succeed, at most two failed claims per worker (one at the
 * end of a loop that ran on from the last table into this one, one on waking for it) and up to MAX_JOBS from
 * a calling thread that claims between waits. A worker that took a ticket and read COUNT
 * only after the table finished and the next one opened (preempted between the two) would otherwise
 * compare its ticket of the old table with the new table's count, claim a job that the new table's own
 * tickets claim as well, and run it twice (FINISHED then passes the count, and the calling thread waits
 * for ever): with the tag it sees that NEXT moved on and drops the ticket, which can only have been a
 * failed claim (a good one holds its table open until its job is done). A ticket taken while the table is
 * CLOSED has CLOSED's bit and is dropped too.
 */
const TICKET_BITS = 8;
const TICKET_MASK = (1 << TICKET_BITS) - 1;
const TAG_MASK = (1 << 22) - 1;
/** The last sequence before it starts again at 1: SEQ, TABLE and the done marks are Int32 slots, and -1 is the workers' exit. */
const LAST_SEQUENCE = 0x7fffffff;
/**
 * Polls a thread makes before it sleeps in Atomics.wait, by default 300,000 (about 4-10 ms): waking a
 * sleeping thread costs tens of microseconds, more when the OS must first find it a core, and a training
 * step has gaps longer than a fraction of a millisecond between its tables (the linear layers, the loss
 * and the optimizer step run on the calling thread alone). With 20,000 polls (0.3-0.7 ms) the worker of
 * the reference network's 2-thread training slept before 2.1-2.5 of the step's 5 tables and had to be
 * woken; with 300,000 it stays awake through the step: in-process alternation of 10 blocks of 200 steps
 * each (threads restarted with the other budget before every block, shared 2-core machine), medians
 * 2.464 -> 2.395 ms, first quartiles 2.406 -> 2.353 ms (faster in 8 of 10 pairs; three earlier runs
 * agreed, the fastest block 1-5% faster). An idle pool gives its core back within ~10 ms. The launcher
 * may set another (setPollBudget) and a give-way (setGiveWay): the Web Workers' pool polls as many times
 * but gives way while its threads lose their cores (threads-web.ts, give-way.ts).
 */
export const DEFAULT_POLLS = 300_000;
let polls = DEFAULT_POLLS;

/** A started worker, as the pool needs it. */
export interface PoolWorker {
  terminate(): Promise<unknown>;
}

/**
 * Starts one worker running `source` (workerSource's text) with `workerData`; resolves once the worker
 * posted "ready". The launcher puts `parentPort` (with `postMessage`) and `workerData` in the source's
 * scope, each runtime its own way, so this module names no runtime's API.
 */
export type WorkerLauncher = (source: string, workerData: Record<string, unknown>) => Promise<PoolWorker>;

let launcher: WorkerLauncher | null = null;

/** Starts pool workers with `start` from now on; null: none start (startWorkers resolves null). */
export function setWorkerLauncher(start: WorkerLauncher | null): void {
  launcher = start;
}

/** Polls before sleeping, for the calling thread from now on and for workers started from now on. */
export function setPollBudget(count: number): void {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`setPollBudget: count must be an integer >= 0, but got ${count}`);
  polls = count;
}

let giveWay: GiveWay | null = null;

/**
 * How threads give way where they may share cores (GiveWay; null: every wait polls the whole budget), for the
 * calling thread from now on and for workers started from now on.
 */
export function setGiveWay(config: GiveWay | null): void {
  giveWay = config === null ? null : { ...config };
  callerSpin = null;
}

/** Polls before sleeping (setPollBudget). */
export function pollBudget(): number {
  return polls;
}

let live = 0;

/** Worker threads started by startWorkers and not yet stopped, over every pool. */
export function liveWorkerCount(): number {
  return live;
}

export interface WorkerPool {
  workers: PoolWorker[];
  control: Int32Array;
  sequence: number;
}

/**
 * The source of a worker: `setup` runs once with `workerData` and `ctl` (the control block) in scope,
 * then `runJob` runs for every job the worker claims, with `job` (its index) in scope.
 */
export function workerSource(setup: string, runJob: string): string {
  return `
const ctl = new Int32Array(workerData.control);
const polls = workerData.polls;
const giveWay = workerData.giveWay === null ? null : ${GIVE_WAY_SOURCE}(workerData.giveWay, polls, () => performance.now());
${setup}
parentPort.postMessage("ready");
const sleep = (slot, value, sleepers) => {
  if (giveWay !== null) {
    if (giveWay(ctl, slot, value)) return;
  } else for (let i = 0; i < polls; i++) if (Atomics.load(ctl, slot) !== value) return;
  Atomics.add(ctl, sleepers, 1);
  Atomics.wait(ctl, slot, value);
  Atomics.sub(ctl, sleepers, 1);
};
let seen = 0;
for (;;) {
  sleep(${SEQ}, seen, ${SLEEPING_WORKERS});
  const seq = Atomics.load(ctl, ${SEQ});
  if (seq === seen) continue;
  if (seq < 0) break;
  seen = seq;
  for (;;) {
    const ticket = Atomics.add(ctl, ${NEXT}, 1);
    const count = Atomics.load(ctl, ${COUNT});
    if (ticket >= ${CLOSED} || (ticket & ${TICKET_MASK}) >= count || (Atomics.load(ctl, ${NEXT}) ^ ticket) >>> ${TICKET_BITS} !== 0) break;
    const job = Atomics.load(ctl, ${READY}) >= count ? count - 1 - Atomics.add(ctl, ${BACK}, 1) : Atomics.add(ctl, ${FRONT}, 1);
    for (let r = Atomics.load(ctl, ${READY}); r <= job; r = Atomics.load(ctl, ${READY})) sleep(${READY}, r, ${SLEEPING_ON_READY});
    try {
      ${runJob}
    } catch {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    Atomics.store(ctl, ${DONE} + job, Atomics.load(ctl, ${TABLE}));
    const last = Atomics.add(ctl, ${FINISHED}, 1) + 1 === count;
    if (Atomics.load(ctl, ${SLEEPING_CALLER}) !== 0) {
      Atomics.notify(ctl, ${DONE} + job);
      if (last) Atomics.notify(ctl, ${FINISHED});
    }
  }
}
`;
}

/**
 * Starts `count` workers running `source` over a new control block of `controlInts` slots with the
 * installed launcher; `workerData(index)` adds to what each receives (`control` is added here).
 * Resolves null where no launcher is installed or a worker fails to start.
 */
export async function startWorkers(
  count: number,
  source: string,
  controlInts: number,
  workerData: (index: number) => Record<string, unknown>,
): Promise<WorkerPool | null> {
  if (launcher === null) return null;
  const control = new SharedArrayBuffer(controlInts * 4);
  const workers: PoolWorker[] = [];
  try {
    for (let index = 0; index < count; index++) {
      workers.push(await launcher(source, { ...workerData(index), control, polls, giveWay }));
      live++;
    }
  } catch {
    await terminate(workers);
    return null;
  }
  return { workers, control: new Int32Array(control), sequence: 0 };
}

/**
 * Opens `count` jobs to the workers; `writeTable` fills the job table while no worker can claim. The
 * first `ready` jobs (default all) may start at once; markReady lets the others follow, in order. Once all
 * are ready, workers claim from the back of the table, the calling thread from the front (FRONT).
 */
export function publishJobs(pool: WorkerPool, count: number, writeTable: (ctl: Int32Array) => void, ready = count): void {
  writeTable(closeTable(pool, count));
  openJobs(pool, count, ready);
}

/**
 * Closes the table to the workers (none claims from it until openJobs) so that the caller can write
 * `count` jobs into the control block it returns: publishJobs without a function to write them.
 */
export function closeTable(pool: WorkerPool, count: number): Int32Array {
  if (count > MAX_JOBS) throw new RangeError(`publishJobs: at most ${MAX_JOBS} jobs fit in a table, but got ${count}`);
  Atomics.store(pool.control, NEXT, CLOSED);
  return pool.control;
}

/** Opens the `count` jobs written since closeTable, the first `ready` (default all) at once (see publishJobs). */
export function openJobs(pool: WorkerPool, count: number, ready = count): void {
  const ctl = pool.control;
  Atomics.store(ctl, FRONT, 0);
  Atomics.store(ctl, BACK, 0);
  Atomics.store(ctl, COUNT, count);
  Atomics.store(ctl, FINISHED, 0);
  Atomics.store(ctl, FAILED, 0);
  Atomics.store(ctl, READY, ready);
  if (pool.sequence === LAST_SEQUENCE) {
    // Done marks of 2^31 tables ago must not pass for the new tables'.
    ctl.fill(0, DONE, DONE + MAX_JOBS);
    pool.sequence = 0;
  }
  Atomics.store(ctl, TABLE, ++pool.sequence);
  Atomics.store(ctl, NEXT, (pool.sequence & TAG_MASK) << TICKET_BITS);
  Atomics.store(ctl, SEQ, pool.sequence);
  if (Atomics.load(ctl, SLEEPING_WORKERS) !== 0) Atomics.notify(ctl, SEQ);
}

/** Jobs [0, ready) of the open table have their input in place: threads waiting for one of them go on. */
export function markReady(pool: WorkerPool, ready: number): void {
  Atomics.store(pool.control, READY, ready);
  if (Atomics.load(pool.control, SLEEPING_ON_READY) !== 0) Atomics.notify(pool.control, READY);
}

/**
 * The calling thread claims jobs alongside the workers until none are left; returns the first error it
 * met. Every job must be ready (markReady) by then.
 */
export function claimJobs(pool: WorkerPool, count: number, run: (job: number) => void): unknown {
  let error: unknown = null;
  for (let j = claimed(pool, count); j >= 0; j = claimed(pool, count)) {
    try {
      run(j);
    } catch (e) {
      error ??= e;
    }
    finished(pool, j);
  }
  return error;
}

/**
 * The calling thread claims the open table's next job and runs it; false, nothing run, when none is left.
 * A job that throws still finishes; `failed` gets its error. Every job must be ready (markReady) by then.
 */
export function claimJob(pool: WorkerPool, count: number, run: (job: number) => void, failed: (error: unknown) => void): boolean {
  const j = claimed(pool, count);
  if (j < 0) return false;
  try {
    run(j);
  } catch (e) {
    failed(e);
  }
  finished(pool, j);
  return true;
}

/** The job the calling thread claims next (from the front), or -1 when none is left. */
function claimed(pool: WorkerPool, count: number): number {
  const ticket = Atomics.add(pool.control, NEXT, 1);
  return ticket >= CLOSED || (ticket & TICKET_MASK) >= count ? -1 : Atomics.add(pool.control, FRONT, 1);
}

/** Marks job `j`, which the calling thread ran, finished. */
function finished(pool: WorkerPool, j: number): void {
  Atomics.store(pool.control, DONE + j, pool.sequence);
  Atomics.add(pool.control, FINISHED, 1);
}

/** Whether job `job` of the open table finished (its result may be read; it may have failed). */
export function jobFinished(pool: WorkerPool, job: number): boolean {
  return Atomics.load(pool.control, DONE + job) === pool.sequence;
}

/** Blocks until job `job` of the open table finished. */
export function awaitJob(pool: WorkerPool, job: number): void {
  const ctl = pool.control;
  for (let d = Atomics.load(ctl, DONE + job); d !== pool.sequence; d = Atomics.load(ctl, DONE + job)) sleep(ctl, DONE + job, d);
}

/** The calling thread's GiveWaySpin, made at its first wait after setGiveWay. */
let callerSpin: GiveWaySpin | null = null;
/** The clock (every runtime with threads has one; the library is typed without the DOM's and Node's globals). */
const clock = (globalThis as unknown as { performance: { now(): number } }).performance;

/** Waits until ctl[slot] is no longer `value`: polls a while, then sleeps until a worker notifies. */
function sleep(ctl: Int32Array, slot: number, value: number): void {
  if (giveWay !== null) {
    callerSpin ??= new GiveWaySpin(giveWay, () => clock.now());
    if (callerSpin.poll(ctl, slot, value, polls)) return;
  } else for (let i = 0; i < polls; i++) if (Atomics.load(ctl, slot) !== value) return;
  Atomics.store(ctl, SLEEPING_CALLER, 1);
  Atomics.wait(ctl, slot, value);
  Atomics.store(ctl, SLEEPING_CALLER, 0);
}

/**
 * Blocks until all `count` jobs finished and closes the table; then throws an Error with the message
 * `failure(who)` if a job failed: who is "the calling thread" (its `error` from claimJobs becomes the
 * cause) or "a worker".
 */
export function awaitJobs(pool: WorkerPool, count: number, failure: (who: string) => string, error: unknown = null): void {
  const ctl = pool.control;
  for (let f = Atomics.load(ctl, FINISHED); f !== count; f = Atomics.load(ctl, FINISHED)) sleep(ctl, FINISHED, f);
  Atomics.store(ctl, NEXT, CLOSED);
  if (error !== null) throw new Error(failure("the calling thread"), { cause: error });
  if (ctl[FAILED] !== 0) throw new Error(failure("a worker"));
}

async function terminate(workers: PoolWorker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.terminate()));
  live -= workers.length;
}

/** Asks the workers to exit and waits for them. */
export async function stopWorkers(pool: WorkerPool): Promise<void> {
  Atomics.store(pool.control, SEQ, -1);
  Atomics.notify(pool.control, SEQ);
  await terminate(pool.workers);
}
