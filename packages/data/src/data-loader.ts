import { ArgumentError, Generator, type Tensor, defaultGenerator, tensor } from "@pico/core";
import { type Dataset, sampleInto } from "./dataset.js";
import type { Transform } from "./transforms/transform.js";

export interface DataLoaderOptions {
  /** Samples per batch. Default 1. */
  batchSize?: number;
  /** Visit the samples in a new random order every epoch. Default false. */
  shuffle?: boolean;
  /** Seed of the shuffling; default: drawn from the global generator (see manualSeed) at construction when shuffling. */
  seed?: number;
  /** Leave out the last batch when it would be smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Applied in place to each sample inside the batch buffer (e.g. augmentation, normalisation). */
  transform?: Transform;
  /**
   * Write every batch into one buffer that the next batch overwrites, and return the same two tensors
   * each time (one pair per batch size: the last batch may be smaller): no allocation per batch, for a
   * training loop that is done with a batch before it draws the next. Each batch moves the version
   * (Tensor.bumpVersion) of every tensor the loader has returned, of any batch size, so a backward that
   * saved the previous batch throws instead of using the new values. Default false: every batch its own buffer.
   */
  reuseBuffer?: boolean;
  /**
   * With reuseBuffer: makes the buffer of `length` floats that batches' inputs, and the one that their
   * targets, are written into, instead of `new Float32Array(length)`; e.g. `(n) => dp.batchBuffer(n)` puts
   * them in the memory a DataParallel's replicas read, so a batch reaches them without a copy (as torch's
   * `pin_memory`). Called when the buffers are made: once, unless a later batch is larger.
   */
  allocate?: (length: number) => Float32Array;
}

/** Inputs [B, ...sampleShape] (float32) and targets [B] (float32 holding class indices). */
export type Batch = [inputs: Tensor, targets: Tensor];

/**
 * Iterates over a data set in batches: `for (const [inputs, targets] of loader)`.
 *
 * Each pass runs one epoch and then advances `epoch`. With `shuffle`, epoch e visits the samples in
 * the order drawn by a Generator seeded from (seed, e): every epoch differs, and a run with the same
 * seed repeats exactly; `setEpoch(e)` resumes the order of any epoch. Each batch is one freshly
 * allocated buffer that the samples are copied into (no per-sample arrays when the data set offers
 * `getInto`), so a batch stays valid while later batches are produced; with `reuseBuffer`, every batch
 * is written into the same buffer instead.
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly transform: Transform | undefined;
  readonly reuseBuffer: boolean;
  private readonly allocate: (length: number) => Float32Array;
  /** The epoch the next pass will run. */
  epoch = 0;
  private shape: readonly number[] | undefined;
  /** With reuseBuffer: the buffers every batch is written into, and their tensors by batch size. */
  private reused: ReusedBuffers | null = null;

  constructor(
    readonly dataset: Dataset,
    options: DataLoaderOptions = {},
  ) {
    const { batchSize = 1, shuffle = false, dropLast = false, reuseBuffer = false } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ArgumentError(`DataLoader: batchSize must be a positive integer, but got ${batchSize}`);
    }
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new ArgumentError(`DataLoader: seed must be an integer, but got ${options.seed}`);
    }
    if (typeof dataset?.get !== "function" || !Number.isInteger(dataset.length)) {
      throw new ArgumentError("DataLoader: dataset must implement Dataset (an integer length and get(i))");
    }
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = options.seed ?? (shuffle ? defaultGenerator.nextUint32() : 0);
    if (typeof reuseBuffer !== "boolean") throw new ArgumentError(`DataLoader: reuseBuffer must be true or false, but got ${String(reuseBuffer)}`);
    this.transform = options.transform;
    this.reuseBuffer = reuseBuffer;
    const allocate = options.allocate;
    if (allocate !== undefined && typeof allocate !== "function") throw new ArgumentError(`DataLoader: allocate must be a function (length) => Float32Array, but got ${typeof allocate}`);
    if (allocate !== undefined && !reuseBuffer) {
      throw new ArgumentError("DataLoader: allocate needs reuseBuffer: true (it makes the one buffer every batch is written into; without reuseBuffer each batch has its own)");
    }
    this.allocate = allocate === undefined ? (length) => new Float32Array(length) : (length) => allocated(allocate(length), length);
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Makes the next pass run epoch `epoch` (for resuming a run). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new ArgumentError(`DataLoader.setEpoch: epoch must be a non-negative integer, but got ${epoch}`);
    this.epoch = epoch;
  }

  /** The order in which epoch `epoch` visits the data set's indices. */
  order(epoch: number = this.epoch): Int32Array {
    const n = this.dataset.length;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (this.shuffle) new Generator(epochSeed(this.seed, epoch)).shuffle(order);
    return order;
  }

  /** Runs the current epoch and advances `epoch`. */
  [Symbol.iterator](): IterableIterator<Batch> {
    const epoch = this.epoch;
    this.epoch = epoch + 1;
    return this.batches(epoch);
  }

  /**
   * The batches of epoch `epoch`, from batch `startBatch` on (to resume inside an epoch), without
   * touching `epoch`.
   */
  *batches(epoch: number = this.epoch, startBatch = 0): IterableIterator<Batch> {
    if (!Number.isInteger(startBatch) || startBatch < 0) {
      throw new ArgumentError(`DataLoader.batches: startBatch must be a non-negative integer, but got ${startBatch}`);
    }
    const order = this.order(epoch);
    const count = this.length;
    for (let b = startBatch; b < count; b++) {
      const start = b * this.batchSize;
      yield this.collate(order.subarray(start, Math.min(start + this.batchSize, order.length)));
    }
  }

  /** Stacks the samples at `indices` into one batch (with reuseBuffer, into the loader's one buffer). */
  collate(indices: ArrayLike<number>): Batch {
    const shape = this.sampleShape();
    const sampleSize = shape.reduce((p, d) => p * d, 1);
    const n = indices.length;
    const transform = this.transform;
    // A crop or resize: each sample is read and transformed in a scratch slot, then copied into the batch.
    const outShape = transform?.outputShape === undefined ? shape : transform.outputShape(shape);
    const outSize = outShape.reduce((p, d) => p * d, 1);
    const reused = this.reuseBuffer ? this.reusedBuffers(n, outSize) : null;
    const inputs = reused?.inputs ?? new Float32Array(n * outSize);
    const targets = reused?.targets ?? new Float32Array(n);
    if (transform?.outputShape !== undefined) {
      const slot = reused?.slot ?? new Float32Array(Math.max(sampleSize, outSize));
      for (let k = 0; k < n; k++) {
        targets[k] = sampleInto(this.dataset, indices[k]!, slot, 0, shape);
        transform(slot, 0, shape);
        inputs.set(slot.subarray(0, outSize), k * outSize);
      }
    } else {
      for (let k = 0; k < n; k++) {
        const offset = k * sampleSize;
        targets[k] = sampleInto(this.dataset, indices[k]!, inputs, offset, shape);
        if (transform !== undefined) transform(inputs, offset, shape);
      }
    }
    if (reused === null) return [tensor(inputs, { shape: [n, ...outShape] }), tensor(targets, { shape: [n] })];
    let batch = reused.batches.get(n);
    if (batch === undefined) {
      batch = [tensor(inputs.subarray(0, n * outSize), { shape: [n, ...outShape] }), tensor(targets.subarray(0, n), { shape: [n] })];
      reused.batches.set(n, batch);
    }
    // Every pair is a view of the one buffer, but versions are kept per typed array: a short last
    // batch also overwrites the full-size pair's values, so every cached pair moves its version.
    for (const pair of reused.batches.values()) for (const t of pair) t.bumpVersion();
    return batch;
  }

  /** The reused buffers, (re)made to hold `n` samples of `outSize` values (the slot: a sample before and after the transform). */
  private reusedBuffers(n: number, outSize: number): ReusedBuffers {
    const sampleSize = this.sampleShape().reduce((p, d) => p * d, 1);
    const rows = Math.max(n, this.batchSize);
    let reused = this.reused;
    if (reused === null || reused.targets.length < n) {
      reused = { inputs: this.allocate(rows * outSize), targets: this.allocate(rows), slot: new Float32Array(Math.max(sampleSize, outSize)), batches: new Map() };
      this.reused = reused;
    }
    return reused;
  }

  private sampleShape(): readonly number[] {
    if (this.shape === undefined) {
      this.shape = this.dataset.sampleShape ?? (this.dataset.length > 0 ? this.dataset.get(0).input.shape : []);
    }
    return this.shape;
  }
}

interface ReusedBuffers {
  inputs: Float32Array;
  targets: Float32Array;
  slot: Float32Array;
  batches: Map<number, Batch>;
}

/** What the allocate option returned, when it is the Float32Array of `length` floats asked for. */
function allocated(array: unknown, length: number): Float32Array {
  if (!(array instanceof Float32Array) || array.length !== length) {
    const got = array instanceof Float32Array ? `a Float32Array of ${array.length}` : typeof array;
    throw new ArgumentError(`DataLoader: allocate must return a Float32Array of the ${length} floats asked for, but returned ${got}`);
  }
  return array;
}

function epochSeed(seed: number, epoch: number): number {
  return ((seed >>> 0) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}
