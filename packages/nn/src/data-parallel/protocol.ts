// What the calling thread and its replicas share: the setup message, the commands, and where each
// number lives in the control block. Both sides compute the same ControlLayout from the setup message.

/** Bumped whenever a message or the control block changes, so a replica built from other sources says so. */
export const PROTOCOL = 11;
export const SETUP = "pico.data-parallel.setup";
export const READY = "pico.data-parallel.ready";
export const FAILED = "pico.data-parallel.failed";

/** Commands, in the control block's CMD field. */
export const STEP = 1;
export const FORWARD = 2;
export const STOP = 3;
/** Run chunks of the optimizer's kernel calls as the calling thread records them, until CALLS_END (see split-optimizer.ts). */
export const OPTIMIZE = 5;

/** A worker's STATUS after a command. */
export const OK = 0;
export const FAILED_STATUS = 1;

/** Dimensions a shard's input, target or output may have. */
export const MAX_DIMS = 8;
/** The calling thread and up to 63 workers. */
export const MAX_REPLICAS = 64;
/** The most chunks a step's batch is cut into (see chunks.ts). */
export const MAX_CHUNKS = 64;
/** Characters of a replica's error message that reach the calling thread. */
export const ERROR_CHARS = 4096;

export type DTypeCode = 1 | 2;
export const FLOAT32: DTypeCode = 1;
export const FLOAT64: DTypeCode = 2;

/** A parameter or buffer of the shared state: where its elements live in the state buffer. */
export interface StateEntry {
  kind: "parameter" | "buffer";
  name: string;
  shape: number[];
  dtype: "float32" | "float64";
  /** Byte offset in the state buffer (and, for parameters, in each worker's gradient block). */
  byteOffset: number;
}

export interface SetupMessage {
  kind: typeof SETUP;
  protocol: number;
  /** This replica's number: 1 for the first worker (0 is the calling thread). */
  replica: number;
  replicas: number;
  modules: number;
  entries: StateEntry[];
  /** Bytes of one gradient block (the parameters' part of the state). */
  gradientBytes: number;
  control: SharedArrayBuffer;
  state: SharedArrayBuffer;
  /** One gradient block per replica (replica r's shard at r · gradientBytes), then the sum's block. */
  gradients: SharedArrayBuffer;
  /** Growable: optimizer state (moment estimates, momentum buffers) that the replicas update their slices of. */
  optimizerState: SharedArrayBuffer;
  /** Growable: the shards' inputs and targets, and the replicas' outputs. */
  data: SharedArrayBuffer;
  /** Growable: the buffers of DataParallel.batchBuffer, which batches are written into (read in place, not copied). */
  staging: SharedArrayBuffer;
  /** How often the replica polls for the next command before it sleeps. */
  polls: number;
  /** The BatchNorm layers' statistics exchange: per replica, two slots of `slotFloats` f64 (see StatisticsExchange). */
  exchange: SharedArrayBuffer;
  slotFloats: number;
}

export interface ReadyMessage {
  kind: typeof READY;
  replica: number;
}

export interface FailedMessage {
  kind: typeof FAILED;
  replica: number;
  message: string;
}

/** Int32 indices of the control block's fields. */
export const SEQ = 0;
export const CMD = 1;
export const BATCH = 2;
/** The first row the workers' part of the data buffer holds (the calling thread's shard ends there). */
export const FIRST_WORKER_ROW = 3;
export const INPUT_DTYPE = 4;
export const INPUT_DIMS = 5; // ndim, then MAX_DIMS sizes
export const TARGET_DTYPE = INPUT_DIMS + 1 + MAX_DIMS;
export const TARGET_DIMS = TARGET_DTYPE + 1;
export const TARGET_OFFSET = TARGET_DIMS + 1 + MAX_DIMS;
export const OUTPUT_OFFSET = TARGET_OFFSET + 1;
export const LOSS_SUM = OUTPUT_OFFSET + 1;
/** The ticket before this step's first statistics exchange (every replica's last ticket is at most this). */
export const EXCHANGE_BASE = LOSS_SUM + 1;
/** The command count once the calling thread has left its part of the step (done or failed). */
export const MAIN_LEFT = EXCHANGE_BASE + 1;
/**
 * Where the workers' rows of the input and of the target start: the buffer (DATA_BUFFER, or STAGED_BUFFER
 * for a batch written into a DataParallel.batchBuffer) and the byte offset there (TARGET_OFFSET's for the target).
 */
export const INPUT_BUFFER = MAIN_LEFT + 1;
export const INPUT_OFFSET = INPUT_BUFFER + 1;
export const TARGET_BUFFER = INPUT_OFFSET + 1;
export const DATA_BUFFER = 0;
export const STAGED_BUFFER = 1;
/** OPTIMIZE, and STEP with STEP_OPTIMIZES: how many optimizer kernel calls the command carries so far (ControlLayout.call; see split-optimizer.ts). */
export const CALL_COUNT = TARGET_BUFFER + 1;
/** OPTIMIZE, and STEP with STEP_OPTIMIZES: how many chunks of the calls so far can be claimed, the next chunk to claim, and the command count once no call will follow. */
export const CHUNK_TOTAL = CALL_COUNT + 1;
export const CHUNK_NEXT = CHUNK_TOTAL + 1;
export const CALLS_END = CHUNK_NEXT + 1;
/** STEP and FORWARD: how many chunks the batch is cut into (ControlLayout.bounds), and whether the replicas claim them (1) or replica r runs chunk r (0). */
export const CHUNKS = CALLS_END + 1;
export const CHUNKED = CHUNKS + 1;
/** STEP, chunked: the next chunk to claim (Atomics.add; the calling thread runs chunk 0 unclaimed). */
export const CHUNK_CLAIM = CHUNKED + 1;
/** STEP: how many chunks have their gradients, loss and output in shared memory; every replica sums its slice once all have. */
export const CHUNKS_DONE = CHUNK_CLAIM + 1;
/** STEP: the command count once a replica failed in it: nobody waits for the chunks any more. */
export const STEP_ABORT = CHUNKS_DONE + 1;
/**
 * STEP: 1 when the step ends with the optimizer's (DataParallel.trainStep): once every thread has summed
 * its slice of the gradients (SUMS_DONE), the threads claim chunks of the calls the calling thread
 * records (CALL_COUNT, CHUNK_TOTAL, CALLS_END), instead of an OPTIMIZE command after the step.
 */
export const STEP_OPTIMIZES = STEP_ABORT + 1;
/** STEP with STEP_OPTIMIZES: how many threads (the calling thread included) have summed their slices of the gradients; the update's chunks are claimed once all have. */
export const SUMS_DONE = STEP_OPTIMIZES + 1;
/** OPTIMIZE and STEP: how many threads wait (or are about to) in Atomics.wait for more chunks of calls; the calling thread notifies WAKE only when some do. */
export const SLEEPERS = SUMS_DONE + 1;
/**
 * OPTIMIZE and STEP: bumped after every store to CHUNK_TOTAL or CALLS_END. A thread out of chunks sleeps on
 * it from the value it read before it looked at those: a store after that look changed it (the wait
 * returns at once) or finds the thread counted in SLEEPERS (notified).
 */
export const WAKE = SLEEPERS + 1;
const HEADER = WAKE + 1;

/** The fewest optimizer kernel calls one command carries (ControlLayout.maxCalls: more when the model has more parameters). */
export const MAX_CALLS = 64;
/**
 * A call's Int32 fields, at ControlLayout.call(k) + these: kind, length, dtype, its first chunk's number
 * and its chunks' length (the last may be shorter), then (buffer, byte offset) per array (buffer NO_ARRAY
 * for a null one).
 */
export const CALL_KIND = 0;
export const CALL_LENGTH = 1;
export const CALL_DTYPE = 2;
export const CALL_FIRST_CHUNK = 3;
export const CALL_CHUNK_LENGTH = 4;
export const CALL_ARRAYS = 5;
export const CALL_MAX_ARRAYS = 5;
const CALL_INTS = CALL_ARRAYS + 2 * CALL_MAX_ARRAYS;
/** CALL_KIND values. */
export const CALL_SGD = 1;
export const CALL_ADAM = 2;
/** The shared buffers an optimizer call's arrays can live in. */
export const STATE_BUFFER = 0;
export const GRADIENT_BUFFER = 1;
export const OPTIMIZER_BUFFER = 2;
export const NO_ARRAY = -1;
/** Float64 scalars of a kernel call (ControlLayout.scalars(k)). */
export const CALL_SCALARS = 10;

/** A worker's DONE once its thread has exited: no command will be answered any more. */
export const EXITED = -1;

/** ControlLayout.reduceFlags bit: the sum adds to what the sum's block holds (the `.grad` before the step). */
export const ACCUMULATE = 2;

/** A worker's fields, at ControlLayout.worker(r) + these. */
export const DONE = 0;
export const STATUS = 1;
export const ERROR_LENGTH = 2;
const WORKER_INTS = 3;

/** A chunk's fields, at ControlLayout.chunk(k) + these: the worker that ran it, its output's dtype and shape, then one flag per parameter (its gradient is in the chunk's block). */
export const CHUNK_REPLICA = 0;
export const OUTPUT_DTYPE = 1;
export const OUTPUT_DIMS = 2; // ndim, then MAX_DIMS sizes
export const GRADIENT_PRESENT = OUTPUT_DIMS + 1 + MAX_DIMS;

/** Where every field of the control block lives, for `replicas` replicas, `modules` modules, `parameters` parameters and `entries` state entries (parameters and buffers). */
export class ControlLayout {
  /** Int32 index of the chunk bounds: chunk k's rows are [bounds[k], bounds[k + 1]) (MAX_CHUNKS + 1 of them). */
  readonly bounds = HEADER;
  /** Int32 index of each module's training flag (in `modules()` order). */
  readonly training: number;
  /** Int32 index of each parameter's requiresGrad flag. */
  readonly requiresGrad: number;
  /**
   * Int32 index of each state entry's (parameters, then buffers) write count: the calling thread counts
   * one up when the entry's values changed since the last command (its tensor's version moved, or a
   * replaced tensor moved into shared memory), so that a replica bumps its own tensor's version then,
   * and only then (what it prepared from the values, a folded BatchNorm or a convolution's weights, stays).
   */
  readonly writes: number;
  /** Int32 index of each parameter's reduce flags from the calling thread (ACCUMULATE). */
  readonly reduceFlags: number;
  /** Int32 index of each replica's last statistics-exchange ticket (replica 0 included). */
  private readonly tickets: number;
  private readonly workers: number;
  private readonly chunks: number;
  private readonly chunkInts: number;
  /** Float64 index of each chunk's loss. */
  private readonly losses: number;
  /** Int32 index of the optimizer's calls (maxCalls of CALL_INTS each). */
  private readonly calls: number;
  /** The most optimizer kernel calls one command carries: MAX_CALLS, or one per parameter when there are more (trainStep's step records every call in one). */
  readonly maxCalls: number;
  /** Float64 index of the calls' scalars (maxCalls of CALL_SCALARS each). */
  private readonly callScalars: number;
  /** Float64 index of the time (clock.ts) until which the threads are contended (see wait.ts's Spin): shared, so that one thread's evidence makes every thread give up its core sooner. */
  readonly contendedUntil: number;
  /** Uint16 index of each worker's error message. */
  private readonly errors: number;
  readonly bytes: number;

  constructor(
    readonly replicas: number,
    readonly modules: number,
    readonly parameters: number,
    readonly entries: number,
  ) {
    this.training = this.bounds + MAX_CHUNKS + 1;
    this.requiresGrad = this.training + modules;
    this.writes = this.requiresGrad + parameters;
    this.reduceFlags = this.writes + entries;
    this.tickets = this.reduceFlags + parameters;
    this.workers = this.tickets + replicas;
    this.chunks = this.workers + (replicas - 1) * WORKER_INTS;
    this.chunkInts = GRADIENT_PRESENT + parameters;
    this.calls = this.chunks + MAX_CHUNKS * this.chunkInts;
    this.maxCalls = Math.max(MAX_CALLS, parameters);
    const ints = this.calls + this.maxCalls * CALL_INTS;
    this.losses = Math.ceil(ints / 2);
    this.callScalars = this.losses + MAX_CHUNKS;
    this.contendedUntil = this.callScalars + this.maxCalls * CALL_SCALARS;
    this.errors = (this.contendedUntil + 1) * 4;
    this.bytes = (this.errors + (replicas - 1) * ERROR_CHARS) * 2;
  }

  /** Int32 index of optimizer call `k`'s fields (CALL_KIND ...). */
  call(k: number): number {
    return this.calls + k * CALL_INTS;
  }
  /** Float64 index of optimizer call `k`'s scalars. */
  scalars(k: number): number {
    return this.callScalars + k * CALL_SCALARS;
  }
  /** Int32 index of replica `replica`'s statistics-exchange ticket (replica >= 0). */
  ticket(replica: number): number {
    return this.tickets + replica;
  }
  /** Int32 index of worker `replica`'s fields (replica >= 1). */
  worker(replica: number): number {
    return this.workers + (replica - 1) * WORKER_INTS;
  }
  /** Int32 index of chunk `k`'s fields. */
  chunk(k: number): number {
    return this.chunks + k * this.chunkInts;
  }
  /** Float64 index of chunk `k`'s loss (unweighted). */
  loss(k: number): number {
    return this.losses + k;
  }
  /** Uint16 index of worker `replica`'s error message. */
  error(replica: number): number {
    return this.errors + (replica - 1) * ERROR_CHARS;
  }
}

export function isSetupMessage(message: unknown): message is SetupMessage {
  return typeof message === "object" && message !== null && (message as { kind?: unknown }).kind === SETUP;
}

export function dtypeCode(dtype: "float32" | "float64"): DTypeCode {
  return dtype === "float64" ? FLOAT64 : FLOAT32;
}

export function bytesOf(code: number): number {
  return code === FLOAT64 ? 8 : 4;
}

/** A typed view of `count` elements of `code`'s dtype at `byteOffset` of `buffer`. */
export function viewOf(buffer: SharedArrayBuffer, code: number, byteOffset: number, count: number): Float32Array | Float64Array {
  return code === FLOAT64 ? new Float64Array(buffer, byteOffset, count) : new Float32Array(buffer, byteOffset, count);
}

/** Writes `shape` as ndim then sizes at `at`. */
export function writeShape(control: Int32Array, at: number, shape: readonly number[]): void {
  control[at] = shape.length;
  for (let i = 0; i < shape.length; i++) control[at + 1 + i] = shape[i]!;
}

export function readShape(control: Int32Array, at: number): number[] {
  const ndim = control[at]!;
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(control[at + 1 + i]!);
  return shape;
}

/** Bytes rounded up to a multiple of 8 (every region starts float64-aligned). */
export function align8(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}
