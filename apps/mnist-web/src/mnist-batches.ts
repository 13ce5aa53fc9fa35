import { type Tensor, tensor } from "@pico/core";
import { type Batch, DataLoader, MNIST_MEAN, MNIST_STD, MnistDigits, normalize } from "@pico/data/bytes";

const PIXELS = 28 * 28;

/**
 * The training batches of MNIST digits as a shuffled DataLoader with `normalize(MNIST_MEAN, MNIST_STD)`
 * yields them (the same samples in the same order, the same float32 values), written into one buffer that
 * every batch reuses: a batch is valid until the next is drawn. The DataLoader allocates each batch (200 KB
 * at batch 64) and normalizes it in a second pass; here a pixel is one table look-up. On the page's
 * data-parallel step, where the replicas wait while the model's Worker prepares the batch, this took
 * 0.3 ms a step down to about 0.1.
 */
export class MnistBatches {
  private readonly order: DataLoader;
  /** The normalized value of each byte, computed by the DataLoader's own pipeline (see normalizedBytes). */
  private readonly values = normalizedBytes();
  private readonly inputs: Float32Array;
  private readonly targets: Float32Array;
  /** The input and target tensors of a full batch and of the epoch's last, smaller one (views of the buffers, made once). */
  private readonly full: Batch;
  private readonly last: Batch;

  constructor(
    private readonly digits: MnistDigits,
    readonly batchSize: number,
    seed: number,
  ) {
    this.order = new DataLoader(digits, { batchSize, shuffle: true, seed });
    this.inputs = new Float32Array(batchSize * PIXELS);
    this.targets = new Float32Array(batchSize);
    this.full = this.views(batchSize);
    this.last = this.views(digits.length % batchSize || batchSize);
  }

  /** Batches per epoch (the last one smaller when the batch size does not divide the data set). */
  get length(): number {
    return this.order.length;
  }

  /** The batches of epoch `epoch`, in the DataLoader's order for that epoch (seeded from `seed` and `epoch`). */
  *batches(epoch: number): IterableIterator<Batch> {
    const order = this.order.order(epoch);
    for (let start = 0; start < order.length; start += this.batchSize) {
      yield this.fill(order.subarray(start, Math.min(start + this.batchSize, order.length)));
    }
  }

  private fill(indices: Int32Array): Batch {
    const { images, labels } = this.digits;
    const { inputs, targets, values } = this;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      const from = i * PIXELS;
      const to = k * PIXELS;
      for (let p = 0; p < PIXELS; p++) inputs[to + p] = values[images[from + p]!]!;
      targets[k] = labels[i]!;
    }
    const batch = indices.length === this.batchSize ? this.full : this.last;
    // Written in place: the buffers' version moves, as autograd's saved tensors and prepared-weight caches expect.
    for (const t of batch) t.bumpVersion();
    return batch;
  }

  private views(rows: number): Batch {
    const x: Tensor = tensor(this.inputs.subarray(0, rows * PIXELS), { shape: [rows, 1, 28, 28] });
    const y: Tensor = tensor(this.targets.subarray(0, rows), { shape: [rows] });
    return [x, y];
  }
}

/**
 * What MnistDigits (bytes to [0, 1]) and normalize(MNIST_MEAN, MNIST_STD) make of each byte 0..255, found
 * by running them on an image holding every byte value, so that the table cannot drift from the library.
 */
function normalizedBytes(): Float32Array {
  const pixels = Uint8Array.from({ length: PIXELS }, (_, p) => p % 256);
  const digit = new MnistDigits({ dtype: "ubyte", shape: [1, 28, 28], data: pixels }, { dtype: "ubyte", shape: [1], data: new Uint8Array(1) });
  const loader = new DataLoader(digit, { transform: normalize(MNIST_MEAN, MNIST_STD) });
  const [inputs] = loader.collate([0]);
  return (inputs.toTypedArray() as Float32Array).slice(0, 256);
}
