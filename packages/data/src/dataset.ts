import { ArgumentError, ShapeError, Tensor, formatShape, kernels, tensor } from "@pico/core";

/** One example: an input tensor (e.g. [C, H, W]) and an integer class index. */
export interface Sample {
  input: Tensor;
  target: number;
}

/**
 * A random-access collection of samples, as in PyTorch.
 *
 * `get(i)` is the general path. A data set whose samples all share one shape can also offer
 * `sampleShape` and `getInto(i, out, offset)`, which writes sample i's input (row-major, float32)
 * into `out` starting at `offset` and returns its target: the DataLoader then fills its batch
 * buffer directly, without allocating anything per sample.
 */
export interface Dataset {
  readonly length: number;
  get(i: number): Sample;
  readonly sampleShape?: readonly number[];
  getInto?(i: number, out: Float32Array, offset: number): number;
}

export function checkIndex(owner: string, i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) {
    throw new ArgumentError(`${owner}: index must be an integer in [0, ${length}), but got ${i}`);
  }
}

/**
 * Writes sample i of any data set into `out` at `offset`, through `getInto` when the data set has it,
 * otherwise by copying the tensor `get` returns. `shape` is the shape every sample must have.
 */
export function sampleInto(dataset: Dataset, i: number, out: Float32Array, offset: number, shape: readonly number[]): number {
  if (dataset.getInto !== undefined && dataset.sampleShape !== undefined) return dataset.getInto(i, out, offset);
  const { input, target } = dataset.get(i);
  copyTensorInto(input, out, offset, shape, `sample ${i}`);
  return target;
}

/** Copies a tensor of exactly `shape` into `out` at `offset`, respecting its strides. */
export function copyTensorInto(input: Tensor, out: Float32Array, offset: number, shape: readonly number[], what: string): void {
  const s = input.shape;
  if (s.length !== shape.length || s.some((d, k) => d !== shape[k])) {
    throw new ShapeError(`DataLoader: every sample must have shape ${formatShape(shape)} to be batched, but ${what} has shape ${formatShape(s)}`);
  }
  const nd = input.data;
  if (kernels.isContiguous(nd)) {
    out.set(nd.data.subarray(nd.offset, nd.offset + input.size), offset);
  } else {
    out.set(input.toTypedArray(), offset);
  }
}

/** Samples from stacked tensors: inputs [N, ...] and targets [N] (a Tensor or plain numbers). */
export class TensorDataset implements Dataset {
  readonly length: number;
  readonly sampleShape: readonly number[];
  private readonly inputs: Float32Array;
  private readonly targets: Float64Array;
  private readonly sampleSize: number;

  constructor(inputs: Tensor, targets: Tensor | ArrayLike<number>) {
    if (!(inputs instanceof Tensor) || inputs.ndim < 1) {
      throw new ArgumentError(`TensorDataset: inputs must be a Tensor with a leading sample axis [N, ...]`);
    }
    const n = inputs.shape[0]!;
    const t = targets instanceof Tensor ? targets.toTypedArray() : targets;
    if (targets instanceof Tensor && targets.ndim !== 1) {
      throw new ShapeError(`TensorDataset: targets must have shape [N], but got ${formatShape(targets.shape)}`);
    }
    if (t.length !== n) {
      throw new ShapeError(`TensorDataset: inputs have ${n} samples (shape ${formatShape(inputs.shape)}), but targets have ${t.length}`);
    }
    this.length = n;
    this.sampleShape = inputs.shape.slice(1);
    this.sampleSize = this.sampleShape.reduce((p, d) => p * d, 1);
    const flat = inputs.toTypedArray();
    this.inputs = flat instanceof Float32Array ? flat : Float32Array.from(flat);
    this.targets = Float64Array.from(t);
  }

  get(i: number): Sample {
    checkIndex("TensorDataset.get", i, this.length);
    const data = this.inputs.slice(i * this.sampleSize, (i + 1) * this.sampleSize);
    return { input: tensor(data, { shape: this.sampleShape }), target: this.targets[i]! };
  }

  getInto(i: number, out: Float32Array, offset: number): number {
    checkIndex("TensorDataset.getInto", i, this.length);
    out.set(this.inputs.subarray(i * this.sampleSize, (i + 1) * this.sampleSize), offset);
    return this.targets[i]!;
  }
}

/** The samples of `dataset` at `indices`, in that order (like torch.utils.data.Subset). */
export class Subset implements Dataset {
  readonly length: number;
  readonly indices: Int32Array;
  readonly sampleShape?: readonly number[];
  readonly getInto?: (i: number, out: Float32Array, offset: number) => number;

  constructor(
    readonly dataset: Dataset,
    indices: ArrayLike<number>,
  ) {
    this.indices = Int32Array.from(indices);
    for (let k = 0; k < indices.length; k++) {
      const j = indices[k]!;
      if (!Number.isInteger(j) || j < 0 || j >= dataset.length) {
        throw new ArgumentError(`Subset: indices must be integers in [0, ${dataset.length}), but indices[${k}] is ${j}`);
      }
    }
    this.length = this.indices.length;
    if (dataset.sampleShape !== undefined) this.sampleShape = dataset.sampleShape;
    const baseInto = dataset.getInto;
    if (baseInto !== undefined) {
      this.getInto = (i, out, offset) => {
        checkIndex("Subset.getInto", i, this.length);
        return baseInto.call(dataset, this.indices[i]!, out, offset);
      };
    }
  }

  get(i: number): Sample {
    checkIndex("Subset.get", i, this.length);
    return this.dataset.get(this.indices[i]!);
  }
}
