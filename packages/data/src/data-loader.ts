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
 * `getInto`), so a batch stays valid while later batches are produced.
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly transform: Transform | undefined;
  /** The epoch the next pass will run. */
  epoch = 0;
  private shape: readonly number[] | undefined;

  constructor(
    readonly dataset: Dataset,
    options: DataLoaderOptions = {},
  ) {
    const { batchSize = 1, shuffle = false, dropLast = false } = options;
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
    this.transform = options.transform;
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

  /** Stacks the samples at `indices` into one batch. */
  collate(indices: ArrayLike<number>): Batch {
    const shape = this.sampleShape();
    const sampleSize = shape.reduce((p, d) => p * d, 1);
    const n = indices.length;
    const transform = this.transform;
    const targets = new Float32Array(n);
    if (transform?.outputShape !== undefined) {
      // A crop or resize: each sample is read and transformed in a scratch slot, then copied into the batch.
      const outShape = transform.outputShape(shape);
      const outSize = outShape.reduce((p, d) => p * d, 1);
      const slot = new Float32Array(Math.max(sampleSize, outSize));
      const inputs = new Float32Array(n * outSize);
      for (let k = 0; k < n; k++) {
        targets[k] = sampleInto(this.dataset, indices[k]!, slot, 0, shape);
        transform(slot, 0, shape);
        inputs.set(slot.subarray(0, outSize), k * outSize);
      }
      return [tensor(inputs, { shape: [n, ...outShape] }), tensor(targets, { shape: [n] })];
    }
    const inputs = new Float32Array(n * sampleSize);
    for (let k = 0; k < n; k++) {
      const offset = k * sampleSize;
      targets[k] = sampleInto(this.dataset, indices[k]!, inputs, offset, shape);
      if (transform !== undefined) transform(inputs, offset, shape);
    }
    return [tensor(inputs, { shape: [n, ...shape] }), tensor(targets, { shape: [n] })];
  }

  private sampleShape(): readonly number[] {
    if (this.shape === undefined) {
      this.shape = this.dataset.sampleShape ?? (this.dataset.length > 0 ? this.dataset.get(0).input.shape : []);
    }
    return this.shape;
  }
}

function epochSeed(seed: number, epoch: number): number {
  return ((seed >>> 0) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}
