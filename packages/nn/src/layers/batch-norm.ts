import { ArgumentError, formatShape, noGrad, type DType, type Tensor, type kernels } from "@pico/core";
import { batchNorm, batchNormRelu, type BatchNormOptions } from "../functional/batch-norm.js";
import { batchNormAddRelu } from "../functional/batch-norm-add-relu.js";
import { checkOptions } from "../functional/check.js";
import { ones, zeros } from "../init.js";
import { Module } from "../module.js";
import type { Parameter } from "../parameter.js";
import { checkPositiveInteger } from "./check.js";
import { checkNormEps, checkNormMomentum } from "./norm-options.js";
import { createNormState } from "./norm-state.js";

export interface BatchNormLayerOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Weight of each new batch in the running statistics; null for a cumulative average. Default 0.1. */
  momentum?: number | null;
  /** Learn a scale γ and shift β per channel. Default true. */
  affine?: boolean;
  /** Keep running mean and variance for evaluation; without them, batch statistics are always used. Default true. */
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * How the replicas of a data-parallel step share a BatchNorm layer's batch statistics (synchronized
 * BatchNorm, as PyTorch's SyncBatchNorm). DataParallel installs one on each replica's BatchNorm layers
 * for the length of a step (`setStatisticsReducer`); the layer itself stays runtime-neutral.
 */
export interface BatchNormStatisticsReducer {
  /** The exchange of `layer`'s statistics and gradient sums for one call of its forward (and its backward). */
  sync(layer: BatchNormBase): kernels.BatchNormSync;
  /** Whether this replica writes the running statistics and num_batches_tracked (exactly one replica does: they are shared). */
  readonly updatesRunningStats: boolean;
}

/**
 * Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept.
 * In training, each channel is normalised with the batch's mean and (biased) variance, and the
 * running statistics move towards the batch's mean and unbiased variance; in evaluation the
 * running statistics are used.
 *
 * The buffers carry PyTorch's names (`running_mean`, `running_var`, `num_batches_tracked`), which are
 * also their state-dict keys, so a state dict moves between Pico and torch unchanged; `runningMean`,
 * `runningVar` and `numBatchesTracked` read the same tensors. `num_batches_tracked` is an integer
 * count held in a tensor of the layer's dtype (exact up to 2^24 batches in float32) and written as
 * int64 to safetensors, as torch stores it.
 */
export abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Parameter | null;
  bias: Parameter | null;
  running_mean: Tensor | null;
  running_var: Tensor | null;
  num_batches_tracked: Tensor | null;
  #reducer: BatchNormStatisticsReducer | null = null;

  constructor(numFeatures: number, options: BatchNormLayerOptions = {}) {
    super();
    const layer = this.constructor.name;
    checkPositiveInteger(layer, "numFeatures", numFeatures);
    checkOptions(layer, options, ["eps", "momentum", "affine", "trackRunningStats", "dtype"]);
    const eps = options.eps ?? 1e-5;
    const momentum = options.momentum === undefined ? 0.1 : options.momentum;
    checkNormEps(layer, eps);
    checkNormMomentum(layer, momentum, true);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    ({ weight: this.weight, bias: this.bias, running_mean: this.running_mean, running_var: this.running_var, num_batches_tracked: this.num_batches_tracked } =
      createNormState(this, numFeatures, this.affine, this.trackRunningStats, options.dtype ?? "float32"));
  }

  get runningMean(): Tensor | null {
    return this.running_mean;
  }
  get runningVar(): Tensor | null {
    return this.running_var;
  }
  get numBatchesTracked(): Tensor | null {
    return this.num_batches_tracked;
  }

  /** Running statistics back to mean 0, variance 1, no batches seen. */
  resetRunningStats(): void {
    if (this.runningMean !== null) zeros(this.runningMean);
    if (this.runningVar !== null) ones(this.runningVar);
    if (this.numBatchesTracked !== null) zeros(this.numBatchesTracked);
  }

  /** Running statistics reset, γ = 1 and β = 0, as PyTorch. */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight !== null) ones(this.weight);
    if (this.bias !== null) zeros(this.bias);
  }

  /**
   * While a reducer is set, whenever this layer normalises with batch statistics (training, or no running
   * statistics) they are the whole batch's across the replicas the reducer connects, and only the replica
   * it names updates the running statistics. DataParallel sets one for a step and clears it (null) after.
   */
  setStatisticsReducer(reducer: BatchNormStatisticsReducer | null): void {
    this.#reducer = reducer;
  }

  get statisticsReducer(): BatchNormStatisticsReducer | null {
    return this.#reducer;
  }

  /** Throws unless `input` has a rank and channel count this layer accepts. */
  protected abstract checkInput(input: Tensor): void;

  forward(input: Tensor): Tensor {
    return this.normalize(input, false);
  }

  /** relu(forward(input)) in one pass over the batch (and one in backward): the BatchNorm → ReLU fusion pattern runs this. */
  forwardRelu(input: Tensor): Tensor {
    return this.normalize(input, true);
  }

  /**
   * forward (or with `relu` forwardRelu) that, with `handOffGradInput`, leaves its input gradient in the
   * kernel module for the backward of the convolution that produced `input` and feeds this layer alone
   * (BatchNormOptions.handOffGradInput). Only the Conv2d → BatchNorm2d fusion patterns call it.
   * @internal
   */
  forwardHandingOffGradInput(input: Tensor, relu: boolean, handOffGradInput: boolean): Tensor {
    return this.normalize(input, relu, handOffGradInput);
  }

  /**
   * relu(forward(input) + residual) in one pass (F.batchNormAddRelu), its input gradient left in the kernel
   * module with `handOffGradInput` as forwardHandingOffGradInput's. The Conv2d → BatchNorm2d → AddReLU fusion
   * pattern calls it.
   * @internal
   */
  forwardAddRelu(input: Tensor, residual: Tensor, handOffGradInput = false): Tensor {
    return this.normalize(input, true, handOffGradInput, residual);
  }

  private normalize(input: Tensor, relu: boolean, handOffGradInput = false, residual: Tensor | null = null): Tensor {
    this.checkInput(input);
    const useBatchStats = this.training || this.running_mean === null;
    const reducer = useBatchStats ? this.#reducer : null;
    // A replica's shard may hold one value per channel: the whole batch's count is the reducer's to check.
    if (this.training && reducer === null && input.size / this.numFeatures <= 1) {
      throw new ArgumentError(`${this.constructor.name}: expected more than 1 value per channel when training, but got input of shape ${formatShape(input.shape)}`);
    }
    const updates = reducer === null || reducer.updatesRunningStats;
    let factor = 0;
    if (this.training && this.num_batches_tracked !== null && updates) {
      const count = this.num_batches_tracked;
      noGrad(() => {
        count.data.data[count.data.offset] = count.item() + 1;
      });
      count.bumpVersion();
      factor = this.momentum ?? 1 / count.item();
    }
    // A replica that does not update the running statistics normalises as one without them.
    const normalize = residual !== null ? (x: Tensor, rm: Tensor | null, rv: Tensor | null, o: BatchNormOptions) => batchNormAddRelu(x, residual, rm, rv, o) : relu ? batchNormRelu : batchNorm;
    return normalize(input, updates ? this.running_mean : null, updates ? this.running_var : null, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: this.eps,
      sync: reducer === null ? null : reducer.sync(this),
      handOffGradInput,
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}
