import { ArgumentError, type FloatArray, Tensor, formatShape, kernels, noGrad, tensor } from "@pico/core";
import { type AnyModule, Module } from "../module.js";
import { type LossFunction, type ReplicaChannel, applyLoss } from "./channel.js";
import { growTo, growableBuffer } from "./data-buffer.js";
import {
  ACCUMULATE,
  BATCH,
  CALL_COUNT,
  CMD,
  ControlLayout,
  DATA_BUFFER,
  DONE,
  ERROR_LENGTH,
  EXCHANGE_BASE,
  EXITED,
  FAILED,
  FAILED_STATUS,
  CHUNKED,
  CHUNKS,
  CHUNK_REPLICA,
  CHUNKS_DONE,
  CHUNK_CLAIM,
  CHUNK_NEXT,
  CHUNK_TOTAL,
  FIRST_WORKER_ROW,
  FORWARD,
  GRADIENT_PRESENT,
  INPUT_BUFFER,
  INPUT_DIMS,
  INPUT_DTYPE,
  INPUT_OFFSET,
  LOSS_SUM,
  MAIN_LEFT,
  MAX_CHUNKS,
  MAX_DIMS,
  MAX_REPLICAS,
  OPTIMIZE,
  OUTPUT_DIMS,
  OUTPUT_DTYPE,
  OUTPUT_OFFSET,
  PROTOCOL,
  READY,
  SEQ,
  SETUP,
  STAGED_BUFFER,
  STATUS,
  STEP,
  STEP_OPTIMIZES,
  STOP,
  SUMS_DONE,
  type SetupMessage,
  type StateEntry,
  TARGET_BUFFER,
  TARGET_DIMS,
  TARGET_DTYPE,
  TARGET_OFFSET,
  align8,
  bytesOf,
  dtypeCode,
  readShape,
  viewOf,
  writeShape,
} from "./protocol.js";
import { abortStep, awaitChunks, awaitSums, chunkBounds, finishChunk, markSummed, nextChunk, recycleGradients, sumFailed } from "./chunks.js";
import { GradientSum } from "./gradient-sum.js";
import { OptimizerStateSharing } from "./optimizer-state.js";
import { ReplicaError } from "./replica-error.js";
import { type LossReduction, batchStatisticsModules, checkIgnoredTargets, checkModulesShardable, lossReduction, normalisesWithBatchStatistics, shardDependentModules } from "./rules.js";
import { checkOutput } from "./serve-replica.js";
import { adopt, describeEntry, entryView, layoutState, namedState, viewsShared } from "./shared-state.js";
import { StateStructure } from "./state-structure.js";
import { ChunkRunner, OptimizerSplit, callBuffers } from "./split-optimizer.js";
import { ExchangeAbort, StatisticsExchange, exchangeBase, slotFloatsOf, wakeExchange } from "./statistics-exchange.js";
import { now } from "./clock.js";
import { DEFAULT_POLLS, Spin, waitWhileEqual } from "./wait.js";

export interface DataParallelOptions {
  /**
   * How the loss reduces a shard: "mean" (each shard's loss and gradient weighted by its share of the
   * batch's rows) or "sum" (added). Default: the loss module's own `reduction`, else "mean".
   */
  lossReduction?: LossReduction;
  /** Milliseconds the replicas have to build their models and answer the setup (default 60,000). */
  setupTimeoutMs?: number;
  /** Milliseconds a replica has for one step's shard before the step fails (default: no limit). */
  stepTimeoutMs?: number;
  /** The most bytes the shards' inputs, targets and outputs may take in shared memory (default 1 GiB, reserved, not allocated). */
  maxDataBytes?: number;
  /**
   * How often each thread checks for its signal before it sleeps in Atomics.wait (default 1,000,000,
   * about 7-13 ms): enough for a replica to spin through the optimizer step and the next batch, and
   * through a BatchNorm exchange's wait, instead of sleeping (a step after a replica slept took twice as
   * long on this project's machine; see wait.ts). Fewer leave the cores to other work sooner, at the
   * price of a wake-up per step. Whatever the count, a thread that finds the machine contended (it keeps
   * losing its core while it polls: more runnable threads than cores) sleeps early for a while (wait.ts's Spin).
   */
  polls?: number;
  /**
   * Rows of a chunk at most (an integer >= 1), or null: one shard per replica, each replica runs its own
   * (the default). With chunks, forwardBackward cuts the batch into chunks of at most this many rows (as
   * equal as possible, at most 64), the calling thread runs the first and every replica claims the next
   * one whenever it is free: a replica held up (a garbage collection, another process on its core)
   * takes fewer rows instead of making the step wait. Each chunk's gradient is added in chunk order, so
   * the bits depend on the batch size and chunkRows only. A chunk costs a forward and backward pass of
   * its own: on this project's machine the reference network's fixed ~0.13 ms outweighed the balance
   * gained (batch 64 on 2 replicas: chunks of 16 ~5% and of 11 ~19% slower than shards; see the nn
   * README), so it pays only where a row costs far more than a pass. A step where a BatchNorm layer
   * normalises with batch statistics runs by shards anyway (its statistics exchange needs every replica
   * to hold one part of the batch), and so does infer.
   */
  chunkRows?: number | null;
}

/** One data-parallel step's results on the calling thread. */
export interface DataParallelStep {
  /** The batch's loss: the shards' losses weighted by their rows ("mean") or added ("sum"), in replica order. */
  loss: number;
  /** The model's output for the whole batch, gathered in row order (no graph). */
  output: Tensor;
}

/** How a forwardBackward cut its batch (DataParallel.lastSplit). */
export interface DataParallelSplit {
  /**
   * "shards": one part per replica, replica r running part r (no chunkRows, or a BatchNorm layer that
   * normalises with batch statistics). "chunks": chunkRows's parts, each run by whichever replica is free.
   */
  readonly mode: "shards" | "chunks";
  /** Where each part starts along axis 0, and where the last ends (the batch's rows). */
  readonly bounds: readonly number[];
}

const NAME = "DataParallel";
// Every runtime has timers; the library is typed without any runtime's globals.
const timers = globalThis as unknown as { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(timer: unknown): void };
const OPTIONS = ["lossReduction", "setupTimeoutMs", "stepTimeoutMs", "maxDataBytes", "polls", "chunkRows"];

/**
 * Synchronous data-parallel training on one machine, like PyTorch's DistributedDataParallel: the calling
 * thread and one replica per channel each hold the same model; `forwardBackward` cuts the batch into as
 * many contiguous shards, every replica runs forward, loss and backward on its shard at the same time,
 * and the shards' gradients, weighted by their rows, are added in replica order into the calling thread's
 * parameters' `.grad` (the same bits on every run; every replica sums a slice of each gradient). The
 * parameters live in shared memory that every replica's parameters view, so an optimizer's in-place
 * update reaches them all without a copy: `optimizer.step()` works as usual, and `dp.step(optimizer)`
 * gives the same result with the update split across the replicas too.
 *
 * Like DistributedDataParallel's `gradient_as_bucket_view`, the `.grad` tensors that forwardBackward
 * leaves view shared memory that the next forwardBackward writes again (adding to them when they are
 * still the `.grad`s, as backward accumulates): clone a gradient to keep it past the next step.
 *
 * Create it with the runtime entries' helpers (`dataParallel` of `@pico/nn/data-parallel` in Node), or
 * with `DataParallel.create` and a channel per worker. The calling thread blocks while the replicas work
 * (Atomics.wait): Node's main thread or a Web Worker, never a page's main thread.
 *
 * BatchNorm layers that normalise with batch statistics (training, or no running statistics) are
 * synchronized, as PyTorch's SyncBatchNorm: every replica normalises its shard with the whole batch's
 * mean and variance, and its input gradient takes the whole batch's sums; the running statistics move
 * once per step, from the whole batch (see statistics-exchange.ts).
 *
 * Refused, because a shard would compute something other than its share of the step: InstanceNorm
 * updating running statistics, Dropout in training mode, class-weighted or ignoreIndex means, a batch
 * smaller than the replicas, parameters that change shape, replicas whose models differ.
 */
export class DataParallel {
  private readonly layout: ControlLayout;
  private readonly control: Int32Array;
  private readonly losses: Float64Array;
  private readonly text: Uint16Array;
  private modules: AnyModule[];
  /** Each module's class at create, in namedModules order: the replicas' builders made these (see checkModules). */
  private readonly moduleKinds: Function[];
  private readonly views: (Float32Array | Float64Array)[];
  private readonly sum: GradientSum;
  /** Per parameter, the tensor `.grad` is after a step: a view of the sum's block in shared memory. */
  private readonly sumTensors: Tensor[];
  /** Rows of a chunk at most, or null: one shard per replica (DataParallelOptions.chunkRows). */
  private readonly chunkRows: number | null;
  /** The most chunks the gradient buffer may hold (its reserve). */
  private readonly maxChunks: number;
  /** Per parameter, this thread's gradient of its last chunk of the step (where backward left it) until its slice is summed. */
  private readonly ownGradients: (FloatArray | null)[];
  /** Per chunk, this thread's output of the running step where it ran the chunk, else null. */
  private readonly ownOutputs: (Tensor | null)[] = [];
  private readonly split: OptimizerSplit;
  private readonly chunkRunner: ChunkRunner;
  /** The optimizer kernels' recorder of dp.step and the kernel it hands unsplittable calls to (see recorderFor). */
  private recorder: { base: kernels.OptimizerKernel; kernel: kernels.OptimizerKernel } | null = null;
  /** Whether the last trainStep's update ran within its STEP command (else it runs step after it). */
  private optimized = false;
  /** The model's parameters as a set (stepsModelParameters), made from the array `parameterSetOf`. */
  private readonly parameterSet = new Set<Tensor>();
  private parameterSetOf: readonly Tensor[] | null = null;
  /** The running OPTIMIZE command's deadline (stepTimeoutMs from its start). */
  private stepDeadline = Infinity;
  private readonly optimizerState: OptimizerStateSharing;
  private readonly timeoutMs: number;
  private readonly exchange: StatisticsExchange;
  /** This thread's waits for the replicas (how long each polls before sleeping). */
  private readonly spin: Spin;
  /** Each state entry's tensor version when its write count was last published (see ControlLayout.writes). */
  private readonly versions: number[];
  /** Per entry, the tensor last adopted into its view (see syncState). */
  private readonly adopted: Tensor[];
  /** The model's named parameters and buffers, walked again only when its structure changes. */
  private readonly structure: StateStructure;
  /** The model's modules that may depend on the shard in some mode (see rules.ts), from the structure's last walk. */
  private shardDependent: [string, AnyModule][];
  /** The model's BatchNorm layers, from the structure's last walk: while one normalises with batch statistics, a step runs by shards. */
  private batchNorms: AnyModule[];
  /** The chunk bounds of the last batch size and chunking (a step reads them, nothing writes them). */
  private bounds: number[] = [];
  /** `bounds` as a DataParallelSplit, made when they change (a step allocates none). */
  private boundsSplit: DataParallelSplit | null = null;
  private lastTrainingSplit: DataParallelSplit | null = null;
  /** Per parameter, its `.grad` before the running step (cleared after it). */
  private readonly previous: (Tensor | null)[] = [];
  /**
   * Per parameter, a private copy of a `.grad` that is exactly the sum's block (a step that accumulates):
   * a failed step hands this back, as a slow worker may still sum its slice into the block after the throw.
   */
  private readonly accumulated: (Tensor | null)[] = [];
  /** Whether the structure's last walk matched the layout (names, kinds, shapes, dtypes). */
  private layoutChecked = true;
  /** Bytes of the staging buffer that batchBuffer has handed out. */
  private staged = 0;
  /** Why no step can run any more (closed, or a replica timed out), or null. */
  private closed: string | null = null;
  private terminated = false;

  private constructor(
    private readonly model: AnyModule,
    private readonly loss: LossFunction | null,
    private readonly channels: readonly ReplicaChannel[],
    private readonly reduction: LossReduction,
    private readonly entries: readonly StateEntry[],
    private readonly setup: Omit<SetupMessage, "kind" | "protocol" | "replica">,
    options: DataParallelOptions,
  ) {
    this.layout = new ControlLayout(setup.replicas, setup.modules, entries.filter((e) => e.kind === "parameter").length, entries.length);
    this.control = new Int32Array(setup.control);
    this.losses = new Float64Array(setup.control);
    this.text = new Uint16Array(setup.control);
    this.modules = model.modules();
    this.views = entries.map((e) => entryView(setup.state, e));
    const parameters = entries.filter((e) => e.kind === "parameter");
    this.sum = new GradientSum(this.control, this.layout, setup.gradients, entries, setup.gradientBytes);
    this.sumTensors = this.sum.sums.map((v, i) => tensor(v, { shape: parameters[i]!.shape }));
    this.ownGradients = parameters.map(() => null);
    this.chunkRows = options.chunkRows ?? null;
    this.maxChunks = Math.floor((setup.gradients as unknown as { maxByteLength: number }).maxByteLength / Math.max(8, setup.gradientBytes)) - 1;
    const buffers = callBuffers(setup.state, setup.gradients, setup.optimizerState);
    this.split = new OptimizerSplit(this.control, this.layout, buffers);
    this.chunkRunner = new ChunkRunner(this.control, this.layout, buffers);
    this.optimizerState = new OptimizerStateSharing(setup.optimizerState, setup.state);
    this.timeoutMs = options.stepTimeoutMs ?? Infinity;
    this.spin = new Spin(setup.polls, this.losses, this.layout.contendedUntil);
    this.exchange = new StatisticsExchange(model, this.control, this.layout, setup.exchange, setup.slotFloats, 0, this.spin);
    this.structure = new StateStructure(model);
    this.shardDependent = shardDependentModules(this.structure.namedModules);
    this.batchNorms = batchStatisticsModules(this.structure.namedModules);
    this.moduleKinds = this.structure.namedModules.map(([, m]) => m.constructor);
    this.versions = [];
    this.adopted = [];
    for (const t of this.structure.tensors) {
      this.versions.push(t.version);
      this.adopted.push(t);
    }
  }

  /**
   * Connects `model` on this thread with one replica per channel (each a worker whose script called
   * `serveReplica` with a builder of the same model) and resolves once every replica is ready. The
   * model's parameters and buffers move into shared memory (their values unchanged; an optimizer made
   * before or after keeps working). `loss` reduces a shard to a scalar; it may be null for inference only.
   */
  static async create(model: AnyModule, loss: LossFunction | null, channels: readonly ReplicaChannel[], options: DataParallelOptions = {}): Promise<DataParallel> {
    const op = `${NAME}.create`;
    if (!(model instanceof Module)) throw new ArgumentError(`${op}: model must be a Module, but got ${describe(model)}`);
    if (loss !== null && typeof loss !== "function" && (typeof loss !== "object" || typeof (loss as { forward?: unknown }).forward !== "function")) {
      throw new ArgumentError(`${op}: loss must be a function (output, target) => Tensor, a module with forward(output, target), or null, but got ${describe(loss)}`);
    }
    if (!Array.isArray(channels)) throw new ArgumentError(`${op}: channels must be an array of ReplicaChannel, but got ${describe(channels)}`);
    if (channels.length + 1 > MAX_REPLICAS) throw new ArgumentError(`${op}: at most ${MAX_REPLICAS} replicas (${MAX_REPLICAS - 1} channels), but got ${channels.length} channels`);
    checkOptions(op, options);
    const reduction = lossReduction(op, loss, options.lossReduction);
    const setupTimeout = options.setupTimeoutMs ?? 60_000;
    const maxData = options.maxDataBytes ?? 2 ** 30;
    const data = growableBuffer(op, 1 << 16, maxData);
    const state = namedState(model);
    const { entries, gradientBytes, bytes } = layoutState(state);
    const tensors = [...state.parameters, ...state.buffers].map(([, t]) => t);
    const stateBuffer = new SharedArrayBuffer(Math.max(8, bytes));
    entries.forEach((entry, i) => adopt(tensors[i]!, entryView(stateBuffer, entry), true));
    const replicas = channels.length + 1;
    const modules = model.modules().length;
    const layout = new ControlLayout(replicas, modules, state.parameters.length, entries.length);
    const slotFloats = slotFloatsOf(model);
    const setup = {
      replicas,
      modules,
      entries,
      gradientBytes,
      control: new SharedArrayBuffer(layout.bytes),
      state: stateBuffer,
      // The sum's block, then one block per chunk: room for MAX_CHUNKS chunks within 1 GiB (address space, not memory).
      gradients: growableBuffer(op, Math.max(8, (replicas + 1) * gradientBytes), Math.max(8, (replicas + 1) * gradientBytes, Math.min((MAX_CHUNKS + 1) * gradientBytes, 2 ** 30))),
      // Adam with amsgrad keeps three tensors per parameter, and two optimizers may step the same
      // parameters; the reserve is address space, not memory (see optimizer-state.ts when it is full).
      optimizerState: growableBuffer(op, 8, Math.max(8, 8 * gradientBytes)),
      data,
      staging: growableBuffer(op, 8, maxData),
      polls: options.polls ?? DEFAULT_POLLS,
      exchange: new SharedArrayBuffer(Math.max(8, replicas * 2 * slotFloats * 8)),
      slotFloats,
    };
    try {
      await Promise.all(channels.map((channel, w) => connect(channel, { kind: SETUP, protocol: PROTOCOL, replica: w + 1, ...setup }, setupTimeout)));
    } catch (error) {
      await Promise.allSettled(channels.map(async (c) => c.terminate()));
      throw error;
    }
    for (const channel of channels) channel.unref?.();
    return new DataParallel(model, loss, channels, reduction, entries, setup, options);
  }

  /** The calling thread plus one per channel. */
  get replicas(): number {
    return this.channels.length + 1;
  }

  /**
   * How the last forwardBackward cut its batch (also one that failed after its checks), or null before
   * the first: by shards or by chunks, and the parts' bounds. Chunks are asked for by chunkRows, but a
   * step runs by shards while a BatchNorm layer normalises with batch statistics, and a batch of at most
   * chunkRows rows is one chunk.
   */
  get lastSplit(): DataParallelSplit | null {
    return this.lastTrainingSplit;
  }

  /**
   * Forward, loss and backward of the whole batch, by shards: adds the gradient of the batch's loss into
   * the parameters' `.grad` (as `loss.backward()` would) and returns the loss and the batch's output.
   * `input` and `target` have one row per sample along axis 0. When a replica (or this thread) throws,
   * the `.grad`s are left as they were and the error is rethrown (a replica's as a ReplicaError naming it).
   */
  forwardBackward(input: Tensor, target: Tensor): DataParallelStep {
    return this.train(`${NAME}.forwardBackward`, input, target, null);
  }

  /**
   * `forwardBackward(input, target)` then `step(optimizer)`, with the same bits, in one command: once
   * the chunks' gradients are in, every thread sums its slice of them, this thread records the
   * optimizer's kernel calls (its `step()` runs here, as in `step`), and once every sum is done the
   * replicas claim chunks of the calls as they come, this thread too once it has gathered the batch's
   * output: the update takes no second command, and a thread with more to do (or kept off its core)
   * takes fewer chunks. The same optimizers split as in `step`
   * (their own class declares `static splittableStep = true`), which here also promise that their step
   * reads no gradient's values before handing it to core's optimizer kernels (it runs while the replicas
   * still sum them; @pico/optim's do not), and whose `paramGroups` hold the model's parameters only; any
   * other optimizer, a custom optimizer kernel, and a step that adds the batch's gradient to a `.grad`
   * of memory of its own (not the shared block, see forwardBackward) run `step(optimizer)` after the
   * step instead. The first step, whose optimizer state
   * is not yet in shared memory, updates on this thread after the command. Returns forwardBackward's
   * result; the `.grad`s are left as forwardBackward leaves them. When a replica fails in its shard the
   * optimizer does not step (the `.grad`s are left as they were). When a replica's gradient sum fails
   * once this thread has recorded the update, no parameter and no optimizer state array is updated and
   * the `.grad`s are left as they were, but `optimizer.step()` had run (Adam's step count advanced): the
   * ReplicaError's `optimizerStepped` is then true, and the step must not be run again. When the
   * optimizer's step throws, the updates it made before are completed, then the error is rethrown.
   *
   * @example
   * optimizer.zeroGrad();
   * const { loss } = dp.trainStep(images, labels, optimizer); // forwardBackward, then dp.step(optimizer)
   */
  trainStep(input: Tensor, target: Tensor, optimizer: { step(): unknown }): DataParallelStep {
    const op = `${NAME}.trainStep`;
    if (typeof optimizer !== "object" || optimizer === null || typeof (optimizer as { step?: unknown }).step !== "function") {
      throw new ArgumentError(`${op}: optimizer must be an optimizer (an object with step()), such as @pico/optim's Adam, but got ${describe(optimizer)}`);
    }
    const inStep = this.channels.length > 0 && kernels.kernelOnlyStep(optimizer);
    const result = this.train(op, input, target, inStep ? optimizer : null);
    if (!this.optimized) this.step(optimizer);
    return result;
  }

  /**
   * forwardBackward's step; with `optimizer` (trainStep, a splittable optimizer), its update too, within
   * the command where possible (this.optimized says whether it was).
   */
  private train(op: string, input: Tensor, target: Tensor, optimizer: { step(): unknown } | null): DataParallelStep {
    this.optimized = false;
    this.checkOpen(op);
    if (this.loss === null) throw new ArgumentError(`${op}: this DataParallel was created without a loss (for infer only)`);
    checkRows(op, "input", input, this.replicas);
    if (!(target instanceof Tensor)) throw new ArgumentError(`${op}: target must be a Tensor, but got ${describe(target)}`);
    if (target.ndim < 1 || target.ndim > MAX_DIMS || target.shape[0] !== input.shape[0]) {
      throw new ArgumentError(`${op}: target must have the input's ${input.shape[0]} rows along axis 0 (and at most ${MAX_DIMS} dimensions), but got shape ${formatShape(target.shape)}`);
    }
    checkIgnoredTargets(op, this.loss, this.reduction, target);
    const { bounds, parameters } = this.prepare(op, input, target, true);
    this.lastTrainingSplit = this.boundsSplit;
    const loss = this.loss;
    const c = this.control;
    // Pushed, not mapped (here and in syncState): a map's result changes elements kind once the caller
    // is optimized, and the code that read the earlier arrays then deoptimizes.
    const previous = this.previous;
    // The update runs within the command only where every .grad the step leaves is the sum's block
    // (none before, or that block accumulated): a .grad of memory of its own gets the sum added after.
    // And only for an optimizer of the model's parameters alone (see stepsModelParameters).
    let inStep = optimizer !== null && this.stepsModelParameters(optimizer, parameters);
    for (let i = 0; i < parameters.length; i++) {
      const before = (previous[i] = this.gradientBefore(parameters[i]!.grad, i));
      const accumulate = before !== null && sameMemory(before, this.sum.sums[i]!);
      if (before !== null && !accumulate) inStep = false;
      this.accumulated[i] = accumulate ? new Tensor(kernels.copy(before.data)) : null;
      c[this.layout.reduceFlags + i] = accumulate ? ACCUMULATE : 0;
      parameters[i]!.grad = null;
    }
    c[STEP_OPTIMIZES] = inStep ? 1 : 0;
    // The workers read the calls once the command has started: the counts are this thread's until then.
    c[CALL_COUNT] = 0;
    c[CHUNK_TOTAL] = 0;
    c[CHUNK_NEXT] = 0;
    c[SUMS_DONE] = 0;
    let own: unknown = null;
    const outputs = this.ownOutputs;
    const deadline = this.begin(STEP);
    const seq = c[SEQ]!;
    const model = this.model as unknown as { forward(x: Tensor): unknown };
    const ownGradients = this.ownGradients;
    let kept = -1;
    for (let k = 0; k !== -1; ) {
      const from = bounds[k]!;
      const to = bounds[k + 1]!;
      try {
        const out = checkOutput(model.forward(rowsOf(input, from, to)), to - from);
        const l = applyLoss(loss, out, rowsOf(target, from, to));
        if (!(l instanceof Tensor) || l.size !== 1) throw new ArgumentError(`${op}: the loss must reduce the shard to a scalar, but returned ${l instanceof Tensor ? `shape ${formatShape(l.shape)}` : describe(l)}`);
        this.losses[this.layout.loss(k)] = l.item();
        if (l.requiresGrad) l.backward(Tensor.full(l.shape, this.weight(k, bounds), { dtype: l.dtype }));
        outputs[k] = out;
      } catch (error) {
        own = error;
        for (let i = 0; i < parameters.length; i++) parameters[i]!.grad = null;
        abortStep(c, seq);
        break;
      }
      // Claimed before this chunk is published: its last chunk's own slice need not be copied.
      const next = nextChunk(c, 0, k, seq);
      if (next === -1) kept = k;
      finishChunk(c, this.layout, this.sum, k, parameters, 0, next === -1 ? ownGradients : null);
      k = next;
    }
    this.leave();
    const summed = own === null && awaitChunks(c, this.layout, seq, this.spin, deadline);
    if (summed) {
      try {
        this.sum.sumSlices(0, c[CHUNKS]!, kept, ownGradients);
      } catch (error) {
        own = error;
      } finally {
        markSummed(c, own !== null);
      }
    }
    // With the update in the step, this thread's sum is done before the .grads are set and the optimizer's
    // calls recorded (the replicas claim their chunks as they come, once every sum is done), and the
    // batch's output is gathered before this thread claims any itself.
    let mismatch: Error | null = null;
    let optimizerFailure: unknown = null;
    let recorded = false;
    // The sums were not all done when this thread looked: whether one failed (no thread then claimed any of
    // the recorded calls) is read once finish() has every replica's report, not by when this thread looked.
    let unsummed = false;
    let output: Tensor | null = null;
    if (inStep) {
      try {
        mismatch = summed ? this.outputMismatch(op, bounds) : null;
        if (summed && own === null && mismatch === null) {
          this.settleGradients(parameters, previous);
          recorded = true;
          optimizerFailure = this.recordStep(optimizer!);
        }
      } finally {
        this.split.endInStep(seq);
      }
    }
    // After the step's first update: its new optimizer state does not take the arrays the next backward's gradients would.
    recycleGradients(ownGradients);
    if (recorded) {
      try {
        output = this.gather(bounds);
        if (awaitSums(c, this.layout, seq, this.spin, deadline)) this.chunkRunner.run(this.recorder!.base, seq, this.spin);
        else unsummed = true;
      } catch (error) {
        own = error;
      }
    }
    try {
      // The outputs are checked before the gradients settle: a step that fails leaves .grad as it was.
      const failure = this.finish(op, own, deadline, recorded, unsummed) ?? mismatch ?? (inStep ? null : this.outputMismatch(op, bounds));
      if (failure !== null) {
        if (recorded && failure instanceof ReplicaError) failure.optimizerStepped = true;
        if (stageOf(c, recorded, unsummed) === "update") {
          this.split.dropDeferred();
          failure.message += " (the optimizer step is incomplete: the parameters were partly updated)";
          throw failure;
        }
        if (recorded) {
          this.split.dropDeferred();
          failure.message += " (no parameter and no optimizer state array was updated, but optimizer.step() had run: counters it keeps, such as Adam's step count, advanced)";
        }
        // Never the sum's block itself: a worker that gave up late may still add its slice there.
        for (let i = 0; i < parameters.length; i++) parameters[i]!.grad = this.accumulated[i] ?? previous[i]!;
        throw failure;
      }
      if (recorded) {
        this.optimized = true;
        try {
          this.split.runDeferred();
        } catch (error) {
          optimizerFailure ??= error;
        }
        if (optimizerFailure !== null) throw optimizerFailure;
        this.optimizerState.share(optimizer!, this.split.stateArrays);
        this.split.stateArrays.clear();
      } else {
        this.settleGradients(parameters, previous);
      }
      let total = 0;
      for (let k = 0; k < bounds.length - 1; k++) total += this.weight(k, bounds) * this.losses[this.layout.loss(k)]!;
      return { loss: total, output: output ?? this.gather(bounds) };
    } finally {
      // A chunk this thread ran is never taken for one a replica runs in a later step.
      previous.fill(null);
      this.accumulated.fill(null);
      outputs.fill(null);
    }
  }

  /**
   * Whether every parameter of `optimizer`'s paramGroups (@pico/optim's) is one of the model's
   * `parameters`, packed views of the shared state that a kernel call updates in place: a call that must
   * wait for the sums (the first step's, whose state is new) can then run after the command. Any other
   * tensor, such as a strided view that @pico/optim updates through a packed copy it writes back at once,
   * must be updated when the call is made: such a step (or one of an optimizer without paramGroups) runs
   * `step` after the command.
   */
  private stepsModelParameters(optimizer: object, parameters: readonly Tensor[]): boolean {
    const groups = (optimizer as { paramGroups?: unknown }).paramGroups;
    if (!Array.isArray(groups)) return false;
    if (this.parameterSet.size !== parameters.length || this.parameterSetOf !== parameters) {
      this.parameterSet.clear();
      for (let i = 0; i < parameters.length; i++) this.parameterSet.add(parameters[i]!);
      this.parameterSetOf = parameters;
    }
    for (let g = 0; g < groups.length; g++) {
      const params = (groups[g] as { params?: unknown } | null)?.params;
      if (!Array.isArray(params)) return false;
      for (let i = 0; i < params.length; i++) if (!this.parameterSet.has(params[i] as Tensor)) return false;
    }
    return true;
  }

  /**
   * Runs `optimizer.step()` with the recorder installed over the optimizer kernels, recording its calls
   * into the running STEP command (see split-optimizer.ts); returns what it threw, or null.
   */
  private recordStep(optimizer: { step(): unknown }): unknown {
    const family = kernels.optimizerKernels;
    const base = family.resolve().kernel;
    this.split.stateArrays.clear();
    this.split.beginInStep();
    family.override(this.recorderFor(base));
    try {
      optimizer.step();
      return null;
    } catch (error) {
      return error;
    } finally {
      family.override(null);
    }
  }

  /**
   * The model's output for the whole batch under noGrad, computed by shards on every replica at once
   * (inference; the model's modules in the modes they are in, so call `model.eval()` first).
   */
  infer(input: Tensor): Tensor {
    const op = `${NAME}.infer`;
    this.checkOpen(op);
    checkRows(op, "input", input, this.replicas);
    const { bounds } = this.prepare(op, input, null, false);
    let own: unknown = null;
    const deadline = this.begin(FORWARD);
    try {
      const x = rowsOf(input, 0, bounds[1]!);
      this.ownOutputs[0] = checkOutput(noGrad(() => (this.model as unknown as { forward(x: Tensor): unknown }).forward(x)), bounds[1]!);
    } catch (error) {
      own = error;
    }
    this.leave();
    try {
      const failure = this.finish(op, own, deadline) ?? this.outputMismatch(op, bounds);
      if (failure !== null) throw failure;
      return this.gather(bounds);
    } finally {
      this.ownOutputs.fill(null);
    }
  }

  /**
   * `optimizer.step()` with the replicas' help, for the same result: the optimizers of `@pico/optim` (SGD,
   * Adam, AdamW) update each parameter through core's "optimizer" kernels, which are elementwise, and
   * every such update whose parameter, gradient and state live in shared memory is cut into one
   * contiguous slice per replica, all updated at once (the same bits as on one thread: each element
   * takes the same arithmetic). The parameters and the `.grad`s that forwardBackward leaves are in shared
   * memory already; after each step the optimizer's state tensors (`optimizer.state`) move there too
   * (same values, the same tensors), so from the second step on the whole update splits. Those updates
   * are made once `optimizer.step()` has returned, all in one command (one wait per step): an optimizer
   * that reads back, within its own step, what it updated through core's optimizer kernels would see old
   * values, so only an optimizer whose own class declares `static splittableStep = true` splits (@pico/optim's
   * SGD, Momentum, Adam and AdamW, not a subclass of them: see Optimizer.splittableStep). Any other
   * optimizer, a subclass or an instance with its own step or updateParameter runs `optimizer.step()`
   * on this thread; so does every step when a custom kernel is installed over the optimizer family
   * (`kernels.optimizerKernels.override`). Returns what
   * `optimizer.step()` returns; when it throws, the updates it made before are completed, then the
   * error is rethrown.
   *
   * @example
   * optimizer.zeroGrad();
   * const { loss } = dp.forwardBackward(images, labels);
   * dp.step(optimizer); // instead of optimizer.step()
   */
  step<T>(optimizer: { step(): T }): T {
    const op = `${NAME}.step`;
    this.checkOpen(op);
    if (typeof optimizer !== "object" || optimizer === null || typeof (optimizer as { step?: unknown }).step !== "function") {
      throw new ArgumentError(`${op}: optimizer must be an optimizer (an object with step()), such as @pico/optim's Adam, but got ${describe(optimizer)}`);
    }
    const family = kernels.optimizerKernels;
    const resolved = family.resolve();
    if (this.channels.length === 0 || !kernels.kernelOnlyStep(optimizer)) return optimizer.step();
    const base = resolved.kernel;
    this.stepDeadline = Infinity;
    this.split.stateArrays.clear();
    family.override(this.recorderFor(base));
    let failure: unknown = null;
    let result: T | undefined;
    try {
      result = optimizer.step();
    } catch (error) {
      failure = error;
    } finally {
      family.override(null);
    }
    try {
      this.runRecordedCalls(op, base, this.stepDeadline);
    } catch (error) {
      failure ??= error;
    }
    if (failure !== null) throw failure;
    this.optimizerState.share(optimizer, this.split.stateArrays);
    this.split.stateArrays.clear();
    return result as T;
  }

  /** The recorder to install over the optimizer kernels in a step whose kernel before was `base` (made once per base kernel). */
  private recorderFor(base: kernels.OptimizerKernel): kernels.OptimizerKernel {
    if (this.recorder !== null && this.recorder.base === base) return this.recorder.kernel;
    const op = `${NAME}.step`;
    const begin = (): void => {
      this.checkOpen(op);
      this.stepDeadline = now() + this.timeoutMs;
      this.signal(OPTIMIZE);
    };
    const flush = (): void => this.runRecordedCalls(op, base, this.stepDeadline);
    this.recorder = { base, kernel: this.split.recorder(base, begin, flush) };
    return this.recorder.kernel;
  }

  /**
   * Ends the running OPTIMIZE command (if any): runs the chunks of its calls that no worker has claimed,
   * with `kernel`, and waits for the workers' (see split-optimizer.ts).
   */
  private runRecordedCalls(op: string, kernel: kernels.OptimizerKernel, deadline: number): void {
    if (!this.split.end(this.control[SEQ]!)) return;
    let own: unknown = null;
    try {
      this.chunkRunner.run(kernel, this.control[SEQ]!, this.spin);
    } catch (error) {
      own = error;
    }
    const failure = this.finish(op, own, deadline, true);
    if (failure !== null) {
      failure.message += " (the optimizer step is incomplete: the parameters were partly updated)";
      throw failure;
    }
  }

  /**
   * A Float32Array of `length` zeros in the memory the replicas share: a batch whose input or target
   * tensor views one (packed, from its start or any row) reaches the replicas without the copy that
   * forwardBackward and infer otherwise make of their rows (like a DataLoader's `pin_memory`, which puts
   * batches where the device reads them). Each call takes new memory, within `maxDataBytes`, that lasts
   * as long as this DataParallel (a tensor may still view it): made for buffers written again every step,
   * such as a DataLoader's with `reuseBuffer`, made once and stepped through every epoch (a loader made
   * per epoch takes new memory each time, until maxDataBytes is used up and this throws).
   *
   * @example
   * const loader = new DataLoader(train, { batchSize: 64, reuseBuffer: true, allocate: (n) => dp.batchBuffer(n) });
   */
  batchBuffer(length: number): Float32Array {
    const op = `${NAME}.batchBuffer`;
    this.checkOpen(op);
    if (!Number.isInteger(length) || length < 0) throw new ArgumentError(`${op}: length must be an integer >= 0, but got ${describe(length)}`);
    const start = this.staged;
    const end = align8(start + length * 4);
    const max = (this.setup.staging as unknown as { maxByteLength: number }).maxByteLength;
    if (end > max) {
      throw new ArgumentError(
        `${op}: ${length} floats would take the batch buffers to ${end} bytes of shared memory, more than the ${max} allowed (the maxDataBytes option); ${start} bytes are taken, for the life of this DataParallel: make a loader's buffer once and reuse it every epoch`,
      );
    }
    try {
      growTo(this.setup.staging, end);
    } catch (error) {
      throw new ArgumentError(`${op}: ${(error as Error).message}`);
    }
    this.staged = end;
    return new Float32Array(this.setup.staging, start, length);
  }

  /** Stops the replicas (and terminates their workers). The model keeps its parameters and trains on this thread as before. */
  async close(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    const broken = this.closed !== null;
    this.closed ??= "it was closed";
    // After a timeout a replica may still be in its step: it is terminated without being asked to stop.
    if (broken) {
      await Promise.allSettled(this.channels.map(async (c) => c.terminate()));
      return;
    }
    this.signal(STOP);
    // A replica stuck in a step gets a second, then is terminated anyway.
    const deadline = now() + 1000;
    const seq = this.control[SEQ]!;
    for (let r = 1; r < this.replicas; r++) {
      const at = this.layout.worker(r) + DONE;
      for (let done = Atomics.load(this.control, at); done !== seq && done !== EXITED; done = Atomics.load(this.control, at)) {
        if (!waitWhileEqual(this.control, at, done, this.spin, deadline)) break;
      }
    }
    await Promise.allSettled(this.channels.map(async (c) => c.terminate()));
  }

  private checkOpen(op: string): void {
    if (this.closed !== null) throw new ArgumentError(`${op}: this DataParallel cannot run any more: ${this.closed}`);
  }

  /**
   * Checks the model's state and modes, lays the batch out in shared memory for the workers, and returns
   * the chunk bounds and the model's parameters. `training`: a forwardBackward (chunked when chunkRows
   * says so and no BatchNorm layer normalises with batch statistics), else infer (one shard per replica).
   */
  private prepare(op: string, input: Tensor, target: Tensor | null, training: boolean): { bounds: number[]; parameters: Tensor[] } {
    const changed = this.structure.changed();
    if (changed) {
      this.shardDependent = shardDependentModules(this.structure.namedModules);
      this.batchNorms = batchStatisticsModules(this.structure.namedModules);
    }
    checkModulesShardable(op, this.shardDependent);
    const parameters = this.syncState(op, changed);
    const c = this.control;
    const rows = input.shape[0]!;
    const chunked = training && this.chunkRows !== null && !normalisesWithBatchStatistics(this.batchNorms);
    let bounds = this.bounds;
    if (bounds[bounds.length - 1] !== rows || chunked !== (this.boundsSplit?.mode === "chunks")) {
      bounds = this.bounds = chunkBounds(rows, this.replicas, chunked ? this.chunkRows : null, this.maxChunks);
      this.boundsSplit = Object.freeze({ mode: chunked ? "chunks" : "shards", bounds: Object.freeze([...bounds]) });
    }
    const chunks = bounds.length - 1;
    if (training) {
      try {
        growTo(this.setup.gradients, this.sum.bytesFor(chunks));
      } catch (error) {
        throw new ArgumentError(`${op}: ${(error as Error).message}`);
      }
    }
    c[CHUNKS] = chunks;
    c[CHUNKED] = chunked ? 1 : 0;
    c[CHUNK_CLAIM] = 1;
    c[CHUNKS_DONE] = 0;
    const first = bounds[1]!;
    c[BATCH] = rows;
    c[FIRST_WORKER_ROW] = first;
    c[LOSS_SUM] = this.reduction === "sum" ? 1 : 0;
    c[EXCHANGE_BASE] = exchangeBase(c, this.layout);
    for (let r = 0; r < bounds.length; r++) c[this.layout.bounds + r] = bounds[r]!;
    for (let i = 0; i < this.modules.length; i++) c[this.layout.training + i] = this.modules[i]!.training ? 1 : 0;
    for (let i = 0; i < parameters.length; i++) c[this.layout.requiresGrad + i] = parameters[i]!.requiresGrad ? 1 : 0;
    const data = this.setup.data;
    const inputStaged = this.stagedAt(input, first);
    const targetStaged = target === null ? null : this.stagedAt(target, first);
    const inputBytes = inputStaged !== null ? 0 : align8((input.size / rows) * (rows - first) * bytesOf(dtypeCode(input.dtype)));
    const targetBytes = target === null || targetStaged !== null ? 0 : align8((target.size / rows) * (rows - first) * bytesOf(dtypeCode(target.dtype)));
    try {
      growTo(data, inputBytes + targetBytes);
    } catch (error) {
      throw new ArgumentError(`${op}: ${(error as Error).message}`);
    }
    if (inputStaged === null) writeRows(data, 0, input, first, rows);
    c[INPUT_BUFFER] = inputStaged === null ? DATA_BUFFER : STAGED_BUFFER;
    c[INPUT_OFFSET] = inputStaged ?? 0;
    c[INPUT_DTYPE] = dtypeCode(input.dtype);
    writeShape(c, INPUT_DIMS, input.shape);
    if (target !== null) {
      if (targetStaged === null) writeRows(data, inputBytes, target, first, rows);
      c[TARGET_BUFFER] = targetStaged === null ? DATA_BUFFER : STAGED_BUFFER;
      c[TARGET_DTYPE] = dtypeCode(target.dtype);
      writeShape(c, TARGET_DIMS, target.shape);
    }
    c[TARGET_OFFSET] = targetStaged ?? inputBytes;
    c[OUTPUT_OFFSET] = inputBytes + targetBytes;
    return { bounds, parameters };
  }

  /** The byte offset of `t`'s row `first` in the staging buffer when `t` is a packed tensor there (written into a batchBuffer), else null. */
  private stagedAt(t: Tensor, first: number): number | null {
    const values = t.data.data;
    if (values.buffer !== this.setup.staging || !kernels.isPacked(t.data)) return null;
    return values.byteOffset + first * (t.size / t.shape[0]!) * values.BYTES_PER_ELEMENT;
  }

  /**
   * Keeps the model's parameters and buffers in shared memory: one whose tensor or data was replaced since
   * (same name, shape and dtype) moves in again with its new values; any other change is refused. Counts
   * up the write count of every entry whose values changed since the last command, so that the replicas
   * bump their versions of it (and of nothing else). Returns the model's parameters (the structure's
   * array: read, never kept past the step). `changed`: the structure was walked again for this step (its
   * names are checked then, and before every step until they pass).
   */
  private syncState(op: string, changed: boolean): Tensor[] {
    if (changed) this.layoutChecked = false;
    if (!this.layoutChecked) {
      this.checkLayout(op);
      this.checkModules(op);
      this.layoutChecked = true;
    }
    const tensors = this.structure.tensors;
    const entries = this.entries;
    // Holey: set only at the entries whose tensor (or its data) was replaced.
    let replaced: FloatArray[] | null = null;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const t = tensors[i]!;
      // The names were checked when the structure last changed; a tensor's data (so its shape) may change any time.
      if (e.dtype !== t.dtype || !kernels.sameShape(e.shape, t.shape)) this.checkLayout(op);
      if (!viewsShared(t, this.views[i]!)) {
        // Its values, copied before any view is written (it may view another entry's: two parameters swapped).
        (replaced ??= [])[i] = kernels.packed(t.data).data.slice();
      } else if (t.version !== this.versions[i]) {
        this.wrote(i, t);
      }
    }
    if (replaced === null) return this.structure.parameters;
    // The tensor replaced at an entry keeps its values in memory of its own: a user, or an optimizer made
    // before, holding it no longer sees or writes the new tensor's values. One moved to another entry
    // is adopted there from its copy below.
    for (let i = 0; i < entries.length; i++) {
      const old = this.adopted[i]!;
      if (replaced[i] !== undefined && old !== tensors[i] && viewsShared(old, this.views[i]!)) adopt(old, this.views[i]!.slice(), false);
    }
    for (let i = 0; i < entries.length; i++) {
      const values = replaced[i];
      if (values === undefined) continue;
      const t = tensors[i]!;
      this.views[i]!.set(values);
      adopt(t, this.views[i]!, false);
      this.adopted[i] = t;
      this.wrote(i, t);
    }
    return this.structure.parameters;
  }

  /** Entry `i` was written on this thread (tensor `t`): the replicas see its new version. */
  private wrote(i: number, t: Tensor): void {
    const at = this.layout.writes + i;
    this.control[at] = (this.control[at]! + 1) | 0;
    this.versions[i] = t.version;
  }

  /**
   * Refuses a model whose modules no longer have the classes, in the order, they had at create: a module
   * without state added or swapped on this thread (a ReLU for a Tanh, a Softmax appended) passes the
   * state layout check, but the replicas run the model their builder made, so the shards would compute
   * different models. Once the modules match, the training flags are read from the current instances.
   */
  private checkModules(op: string): void {
    const now = this.structure.namedModules;
    const kinds = this.moduleKinds;
    for (let i = 0; i < Math.max(now.length, kinds.length); i++) {
      const item = now[i];
      if (item !== undefined && i < kinds.length && item[1].constructor === kinds[i]) continue;
      const was = i < kinds.length ? kindName(kinds[i]!) : "nothing";
      const is = item === undefined ? "nothing" : `${kindName(item[1].constructor)} (${item[0] === "" ? "the model itself" : `"${item[0]}"`})`;
      throw new ArgumentError(
        `${op}: the model's modules must keep their classes and order while it trains data-parallel (the replicas run the model their builder made), ` +
          `but module ${i} was ${was} and is now ${is} (create a new DataParallel for the changed model)`,
      );
    }
    const modules: AnyModule[] = [];
    for (const [, m] of now) modules.push(m);
    this.modules = modules;
  }

  /** Refuses a model whose parameters and buffers no longer match the layout by kind, name, shape and dtype. */
  private checkLayout(op: string): void {
    const state = this.structure.state;
    const now: (readonly ["parameter" | "buffer", string, Tensor])[] = [];
    for (const [n, t] of state.parameters) now.push(["parameter", n, t]);
    for (const [n, t] of state.buffers) now.push(["buffer", n, t]);
    for (let i = 0; i < Math.max(now.length, this.entries.length); i++) {
      const e = this.entries[i];
      const item = now[i];
      if (e === undefined || item === undefined || e.kind !== item[0] || e.name !== item[1] || e.dtype !== item[2].dtype || !kernels.sameShape(e.shape, item[2].shape)) {
        const was = e === undefined ? "nothing" : `${e.kind} ${describeEntry(e)}`;
        const is = item === undefined ? "nothing" : `${item[0]} ${describeEntry({ name: item[1], shape: item[2].shape, dtype: item[2].dtype })}`;
        throw new ArgumentError(
          `${op}: the model's parameters and buffers must keep their names, shapes and dtypes while it trains data-parallel, ` +
            `but entry ${i} was ${was} and is now ${is} (create a new DataParallel for the changed model)`,
        );
      }
    }
  }

  private weight(replica: number, bounds: readonly number[]): number {
    return this.reduction === "sum" ? 1 : (bounds[replica + 1]! - bounds[replica]!) / bounds[bounds.length - 1]!;
  }

  private signal(command: number): void {
    Atomics.store(this.control, CMD, command);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
  }

  /**
   * Signals `command` to the workers and connects this thread's BatchNorm layers to the statistics exchange;
   * returns the step's deadline (stepTimeoutMs from now).
   */
  private begin(command: number): number {
    this.signal(command);
    const deadline = now() + this.timeoutMs;
    this.exchange.begin(this.control[SEQ]!, deadline);
    return deadline;
  }

  /** This thread's part of the step is over (done or failed): its layers disconnect, and a replica waiting for its next exchange stops waiting. */
  private leave(): void {
    this.exchange.end();
    Atomics.store(this.control, MAIN_LEFT, this.control[SEQ]!);
    wakeExchange(this.control, this.layout, 0);
  }

  /**
   * Waits for every worker; returns the error to throw (this thread's own first, unless it only says that
   * a replica left a BatchNorm exchange, then the first replica's), or null. `updating`: the command is
   * OPTIMIZE, or a trainStep's STEP whose update was recorded; `unsummed`: that trainStep's sums were not
   * all done when the calling thread looked (see stageOf, read once every replica has reported).
   */
  private finish(op: string, own: unknown, deadline: number, updating = false, unsummed = false): Error | null {
    const c = this.control;
    const seq = c[SEQ]!;
    let failed = 0;
    for (let r = 1; r < this.replicas; r++) {
      const at = this.layout.worker(r);
      for (;;) {
        const done = Atomics.load(c, at + DONE);
        if (done === seq) break;
        if (done === EXITED) {
          this.closed = `replica ${r}'s thread exited`;
          return new ReplicaError(`${op}: replica ${r}'s thread ${this.errorOf(r)} during ${STAGES[stageOf(c, updating, unsummed)]}; this DataParallel is closed`, r);
        }
        if (!waitWhileEqual(c, at + DONE, done, this.spin, deadline)) {
          this.closed = `replica ${r} did not finish a step within stepTimeoutMs (${this.timeoutMs} ms)`;
          return new ReplicaError(`${op}: replica ${r} did not finish ${STAGES[stageOf(c, updating, unsummed)]} within stepTimeoutMs (${this.timeoutMs} ms); this DataParallel is closed`, r);
        }
      }
      if (failed === 0 && c[at + STATUS] === FAILED_STATUS) failed = r;
    }
    // Named once every replica has reported: what the step got to, not when this thread looked.
    const stage = stageOf(c, updating, unsummed);
    const failure = failed === 0 ? null : new ReplicaError(`${op}: replica ${failed} (a worker) failed ${stage === "shard" ? "on" : "in"} ${STAGES[stage]}: ${this.errorOf(failed)}`, failed);
    if (own instanceof ExchangeAbort) return failure ?? new ReplicaError(`${op}: ${own.message}`, own.replica);
    if (own !== null) return own instanceof Error ? own : new Error(String(own));
    return failure;
  }

  /** Worker `r`'s last error message. */
  private errorOf(r: number): string {
    const start = this.layout.error(r);
    return String.fromCharCode(...this.text.subarray(start, start + this.control[this.layout.worker(r) + ERROR_LENGTH]!));
  }

  /**
   * Parameter `i`'s `.grad` before a step, as the step may add to it: itself when it holds memory of its
   * own or is exactly the sum's block (whatever Tensor views it: the step adds there), else a copy,
   * made before the step writes the shared gradients (it views them otherwise: strided, in part, or
   * another parameter's block).
   */
  private gradientBefore(grad: Tensor | null, i: number): Tensor | null {
    if (grad === null || grad.data.data.buffer !== this.setup.gradients || sameMemory(grad, this.sum.sums[i]!)) return grad;
    return new Tensor(kernels.copy(grad.data));
  }

  /**
   * Sets each parameter's `.grad` once the replicas have summed the shards' gradients (every replica its
   * slice, see gradient-sum.ts): the sum's block, added to what `.grad` held before the step (in place
   * where that was a packed tensor over the sum's block or its own memory, as backward accumulates); the
   * `.grad` before where no shard has a gradient.
   */
  private settleGradients(parameters: readonly Tensor[], previous: readonly (Tensor | null)[]): void {
    const c = this.control;
    const chunks = c[CHUNKS]!;
    for (let i = 0; i < parameters.length; i++) {
      let present = false;
      for (let k = 0; k < chunks && !present; k++) present = c[this.layout.chunk(k) + GRADIENT_PRESENT + i] === 1;
      const before = previous[i]!;
      if (!present) {
        parameters[i]!.grad = before;
      } else if (before !== null && (c[this.layout.reduceFlags + i]! & ACCUMULATE) !== 0) {
        // Summed onto itself: the Tensor that viewed the sum's block stays the .grad, as backward accumulates.
        before.bumpVersion();
        parameters[i]!.grad = before;
      } else if (before === null) {
        let t = this.sumTensors[i]!;
        if (!viewsShared(t, this.sum.sums[i]!)) t = this.sumTensors[i] = tensor(this.sum.sums[i]!, { shape: parameters[i]!.shape });
        t.bumpVersion();
        parameters[i]!.grad = t;
      } else {
        parameters[i]!.grad = addInto(before, this.sum.sums[i]!);
      }
    }
  }

  /**
   * Why the chunks' outputs cannot make one batch (a row shape or dtype other than chunk 0's, on this
   * thread or a replica), or null; checked before anything of the step is kept.
   */
  private outputMismatch(op: string, bounds: readonly number[]): Error | null {
    const c = this.control;
    const own = this.ownOutputs[0]!;
    const code = dtypeCode(own.dtype);
    const first = bounds[1]!;
    for (let k = 1; k < bounds.length - 1; k++) {
      const mine = this.ownOutputs[k] ?? null;
      if (mine !== null) {
        // This thread's model made it: a row shape other than chunk 0's fails checkOutput's row count or lands here.
        if (!sameRowShapeOf(mine.shape, own.shape)) return new ArgumentError(`${op}: this thread's output for rows ${bounds[k]}-${bounds[k + 1]! - 1} has shape ${formatShape(mine.shape)}, but for rows 0-${first - 1} ${formatShape(own.shape)}: a forward must give every row the same shape`);
        continue;
      }
      const at = this.layout.chunk(k);
      if (c[at + OUTPUT_DTYPE] !== code || !sameRowShape(c, at + OUTPUT_DIMS, own.shape)) {
        const shape = readShape(c, at + OUTPUT_DIMS);
        return new ReplicaError(
          `${op}: replica ${c[at + CHUNK_REPLICA]}'s output for rows ${bounds[k]}-${bounds[k + 1]! - 1} has shape ${formatShape(shape)} (${c[at + OUTPUT_DTYPE] === code ? own.dtype : "another dtype"}), but this thread's has ${formatShape(own.shape)} ${own.dtype}: the replicas' models differ`,
          c[at + CHUNK_REPLICA]!,
        );
      }
    }
    return null;
  }

  /** The batch's output, chunk by chunk (checked by outputMismatch): this thread's own outputs (chunk 0's always), the others from shared memory. */
  private gather(bounds: readonly number[]): Tensor {
    const own = this.ownOutputs[0]!;
    const rows = bounds[bounds.length - 1]!;
    const out = kernels.empty(own.dtype, withRows(own.shape, rows));
    const rowSize = own.size / own.shape[0]!;
    const code = dtypeCode(own.dtype);
    const first = bounds[1]!;
    for (let k = 0; k < bounds.length - 1; k++) {
      const mine = this.ownOutputs[k] ?? null;
      if (mine !== null) {
        out.data.set(kernels.packed(mine.data).data, bounds[k]! * rowSize);
        continue;
      }
      const count = (bounds[k + 1]! - bounds[k]!) * rowSize;
      out.data.set(viewOf(this.setup.data, code, this.control[OUTPUT_OFFSET]! + (bounds[k]! - first) * rowSize * bytesOf(code), count), bounds[k]! * rowSize);
    }
    return new Tensor(out);
  }
}

async function connect(channel: ReplicaChannel, setup: SetupMessage, timeoutMs: number): Promise<void> {
  const r = setup.replica;
  await new Promise<void>((resolve, reject) => {
    const timer = timers.setTimeout(
      () => reject(new ReplicaError(`${NAME}.create: replica ${r} did not answer within ${timeoutMs} ms (does its script call serveReplica?)`, r)),
      timeoutMs,
    );
    const settle = (error: Error | null): void => {
      timers.clearTimeout(timer);
      if (error === null) resolve();
      else reject(error);
    };
    channel.onMessage((message) => {
      const m = message as { kind?: unknown; message?: unknown };
      if (m?.kind === READY) settle(null);
      else if (m?.kind === FAILED) settle(new ReplicaError(`${NAME}.create: replica ${r} failed to start: ${String(m.message)}`, r));
    });
    channel.onError((error) => settle(new ReplicaError(`${NAME}.create: replica ${r} failed to start: ${error.message}`, r)));
    channel.postMessage(setup);
  });
}

function checkOptions(op: string, options: DataParallelOptions): void {
  if (typeof options !== "object" || options === null) throw new ArgumentError(`${op}: options must be an object, but got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) throw new ArgumentError(`${op}: unknown option "${key}"; the options are ${OPTIONS.join(", ")}`);
  }
  for (const key of ["setupTimeoutMs", "stepTimeoutMs", "maxDataBytes"] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === "number" && v > 0)) throw new ArgumentError(`${op}: ${key} must be a number > 0, but got ${describe(v)}`);
  }
  const polls = options.polls;
  if (polls !== undefined && !(Number.isInteger(polls) && polls >= 0)) throw new ArgumentError(`${op}: polls must be an integer >= 0, but got ${describe(polls)}`);
  const chunkRows = options.chunkRows;
  if (chunkRows !== undefined && chunkRows !== null && !(Number.isInteger(chunkRows) && chunkRows >= 1)) {
    throw new ArgumentError(`${op}: chunkRows must be an integer >= 1 (rows of a chunk) or null (one shard per replica), but got ${describe(chunkRows)}`);
  }
}

function checkRows(op: string, name: string, t: Tensor, replicas: number): void {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${name} must be a Tensor, but got ${describe(t)}`);
  if (t.ndim < 1 || t.ndim > MAX_DIMS) throw new ArgumentError(`${op}: ${name} must have 1 to ${MAX_DIMS} dimensions with the samples along axis 0, but got shape ${formatShape(t.shape)}`);
  if (t.shape[0]! < replicas) {
    throw new ArgumentError(`${op}: a batch of ${t.shape[0]} sample(s) cannot be split over ${replicas} replicas; each replica needs at least one sample (batch size >= replicas), but ${name} has shape ${formatShape(t.shape)}`);
  }
}

/** Rows [from, to) of `t` as a tensor without a graph (a view when `t` is packed). */
function rowsOf(t: Tensor, from: number, to: number): Tensor {
  const flat = kernels.packed(t.data).data;
  const rowSize = t.size / t.shape[0]!;
  return tensor(flat.subarray(from * rowSize, to * rowSize), { shape: withRows(t.shape, to - from) });
}

/** `shape` with `rows` along axis 0 (one array, no spread's iterator per step). */
function withRows(shape: readonly number[], rows: number): number[] {
  const out = shape.slice();
  out[0] = rows;
  return out;
}

/** Copies rows [from, to) of `t` to `byteOffset` of `buffer`. */
function writeRows(buffer: SharedArrayBuffer, byteOffset: number, t: Tensor, from: number, to: number): void {
  const rowSize = t.size / t.shape[0]!;
  const flat = kernels.packed(t.data).data;
  viewOf(buffer, dtypeCode(t.dtype), byteOffset, (to - from) * rowSize).set(flat.subarray(from * rowSize, to * rowSize));
}

/** True when the shape written at `at` of `control` (see writeShape) has `shape`'s dimensions after the first. */
function sameRowShape(control: Int32Array, at: number, shape: readonly number[]): boolean {
  if (control[at] !== shape.length) return false;
  for (let i = 1; i < shape.length; i++) if (control[at + 1 + i] !== shape[i]) return false;
  return true;
}

function sameRowShapeOf(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function kindName(kind: Function): string {
  return kind.name === "" ? "an anonymous class" : kind.name;
}

/** True when `t` is a packed tensor over exactly `view`'s memory. */
function sameMemory(t: Tensor, view: FloatArray): boolean {
  const d = t.data.data;
  return kernels.isPacked(t.data) && d.buffer === view.buffer && d.byteOffset === view.byteOffset && d.length === view.length && d.constructor === view.constructor;
}

/** `target + values` (row-major values): in place, as autograd accumulates into `.grad`, when `target` is packed; else a new tensor. */
function addInto(target: Tensor, values: Float32Array | Float64Array): Tensor {
  const out = kernels.isPacked(target.data) ? target : new Tensor(kernels.copy(target.data));
  const d = out.data.data;
  for (let k = 0; k < d.length; k++) d[k]! += values[k]!;
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") return `an object (${(value as object).constructor?.name ?? "Object"})`;
  return `${typeof value} ${String(value)}`;
}

/** What a replica's failure was in (see finish), and its name in the error's message. */
type Stage = "shard" | "sum" | "update";
const STAGES: Readonly<Record<Stage, string>> = { shard: "its shard", sum: "its sum of the shards' gradients", update: "its part of the optimizer step" };

/**
 * What a failed command had reached: its shards, unless it was `updating` (see finish); then the
 * gradients' sum when a thread's sum failed (`unsummed`: the calling thread stopped waiting for the sums,
 * and no thread claims a recorded call once one failed: nothing was updated), else the update. Read once
 * every replica has reported, so the answer does not depend on when the calling thread looked.
 */
function stageOf(control: Int32Array, updating: boolean, unsummed: boolean): Stage {
  if (!updating) return "shard";
  return unsummed && sumFailed(control) ? "sum" : "update";
}
