import { type FloatArray, Tensor, kernels, noGrad, tensor } from "@pico/core";
import { Module } from "../module.js";
import { type Replica, type ReplicaBuilder, type ReplicaEndpoint, applyLoss } from "./channel.js";
import {
  BATCH,
  CHUNKS,
  CHUNK_REPLICA,
  CHUNKS_DONE,
  CMD,
  ControlLayout,
  DONE,
  ERROR_CHARS,
  ERROR_LENGTH,
  EXITED,
  FAILED,
  FAILED_STATUS,
  FIRST_WORKER_ROW,
  FORWARD,
  INPUT_BUFFER,
  INPUT_DIMS,
  INPUT_DTYPE,
  INPUT_OFFSET,
  LOSS_SUM,
  MAX_DIMS,
  OK,
  OPTIMIZE,
  OUTPUT_DIMS,
  OUTPUT_DTYPE,
  OUTPUT_OFFSET,
  PROTOCOL,
  READY,
  SEQ,
  STAGED_BUFFER,
  STATUS,
  STEP_OPTIMIZES,
  STOP,
  type SetupMessage,
  TARGET_BUFFER,
  TARGET_DIMS,
  TARGET_DTYPE,
  TARGET_OFFSET,
  bytesOf,
  dtypeCode,
  isSetupMessage,
  readShape,
  viewOf,
  writeShape,
} from "./protocol.js";
import { adopt, compareState, entryView, namedState } from "./shared-state.js";
import { abortStep, awaitChunks, awaitSums, finishChunk, markSummed, nextChunk, recycleGradients } from "./chunks.js";
import { growTo } from "./data-buffer.js";
import { GradientSum } from "./gradient-sum.js";
import { ChunkRunner, callBuffers } from "./split-optimizer.js";
import { StatisticsExchange, wakeExchange } from "./statistics-exchange.js";
import { Spin, waitWhileEqual } from "./wait.js";

/**
 * Serves as a replica of data-parallel training on `endpoint` (the runtime entries pass `parentPort` or
 * the Worker's `self`): when the calling thread connects, builds the model and loss with `build`, checks
 * that the model has the calling thread's parameters and buffers (names, shapes, dtypes), points them at
 * the shared memory, and from then on runs each step's shard as the calling thread signals it, blocking
 * in between. A throw in the model or the loss reaches the calling thread as a ReplicaError; the replica
 * keeps serving.
 */
export function serveReplicaOn(endpoint: ReplicaEndpoint, build: ReplicaBuilder): void {
  endpoint.onMessage((message) => {
    if (!isSetupMessage(message)) return;
    void connect(endpoint, message, build);
  });
}

async function connect(endpoint: ReplicaEndpoint, setup: SetupMessage, build: ReplicaBuilder): Promise<void> {
  let server: ReplicaServer;
  try {
    if (setup.protocol !== PROTOCOL) {
      throw new Error(`the calling thread speaks data-parallel protocol ${setup.protocol} and this replica ${PROTOCOL}: build both from the same @pico/nn`);
    }
    server = new ReplicaServer(setup, checkReplica(await build()));
  } catch (error) {
    endpoint.postMessage({ kind: FAILED, replica: setup.replica, message: describeError(error) });
    return;
  }
  endpoint.onExit?.((code) => server.exited(code));
  endpoint.postMessage({ kind: READY, replica: setup.replica });
  server.serve();
}

function checkReplica(replica: unknown): Replica {
  const r = replica as Partial<Replica> | null;
  if (typeof r !== "object" || r === null || !(r.model instanceof Module)) {
    throw new Error(`serveReplica: the builder must return { model, loss } with a Module as model, but its model is ${r === null || typeof r !== "object" ? String(r) : typeof r.model}`);
  }
  const loss = r.loss;
  if (typeof loss !== "function" && (typeof loss !== "object" || loss === null || typeof loss.forward !== "function")) {
    throw new Error("serveReplica: the builder must return { model, loss } with a function or a module with forward(output, target) as loss");
  }
  return r as Replica;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

class ReplicaServer {
  private readonly layout: ControlLayout;
  private readonly control: Int32Array;
  private readonly losses: Float64Array;
  private readonly text: Uint16Array;
  private readonly base: number;
  private readonly parameters: Tensor[];
  private readonly buffers: Tensor[];
  private readonly sum: GradientSum;
  private readonly chunkRunner: ChunkRunner;
  private readonly modules: Module<unknown[], unknown>[];
  private readonly exchange: StatisticsExchange;
  /** This replica's waits for the other threads (how long each polls before sleeping). */
  private readonly spin: Spin;
  /** Per parameter, this replica's gradient of its last chunk of the step (where backward left it) until its slice is summed. */
  private readonly own: (FloatArray | null)[];
  /** Each state entry's write count as this replica last saw it (see ControlLayout.writes). */
  private readonly writes: Int32Array;
  /** The command count when this replica connected: read before it says it is ready, since the first command may follow at once. */
  private readonly seen: number;

  constructor(
    private readonly setup: SetupMessage,
    private readonly replica: Replica,
  ) {
    const state = namedState(replica.model);
    const difference = compareState(setup.entries, state);
    if (difference !== null) throw new Error(`this replica's model differs from the calling thread's: ${difference}`);
    this.modules = replica.model.modules();
    if (this.modules.length !== setup.modules) {
      throw new Error(`this replica's model has ${this.modules.length} modules where the calling thread's has ${setup.modules}`);
    }
    this.layout = new ControlLayout(setup.replicas, setup.modules, state.parameters.length, setup.entries.length);
    this.control = new Int32Array(setup.control);
    this.losses = new Float64Array(setup.control);
    this.text = new Uint16Array(setup.control);
    this.base = this.layout.worker(setup.replica);
    this.seen = Atomics.load(this.control, SEQ);
    const tensors = [...state.parameters, ...state.buffers].map(([, t]) => t);
    setup.entries.forEach((entry, i) => adopt(tensors[i]!, entryView(setup.state, entry), false));
    this.parameters = state.parameters.map(([, p]) => p);
    this.own = this.parameters.map(() => null);
    this.buffers = state.buffers.map(([, b]) => b);
    this.writes = new Int32Array(setup.entries.length);
    this.sum = new GradientSum(this.control, this.layout, setup.gradients, setup.entries, setup.gradientBytes);
    this.chunkRunner = new ChunkRunner(this.control, this.layout, callBuffers(setup.state, setup.gradients, setup.optimizerState));
    this.spin = new Spin(setup.polls, this.losses, this.layout.contendedUntil);
    this.exchange = new StatisticsExchange(replica.model, this.control, this.layout, setup.exchange, setup.slotFloats, setup.replica, this.spin);
  }

  /** Runs commands until told to stop; blocks the thread in between. */
  serve(): void {
    const c = this.control;
    let seen = this.seen;
    for (;;) {
      waitWhileEqual(c, SEQ, seen, this.spin);
      seen = Atomics.load(c, SEQ);
      const command = Atomics.load(c, CMD);
      if (command !== STOP) {
        try {
          this.exchange.begin(seen);
          this.run(command);
          c[this.base + STATUS] = OK;
        } catch (error) {
          for (const p of this.parameters) p.grad = null;
          this.fail(describeError(error));
        } finally {
          this.exchange.end();
        }
      }
      Atomics.store(c, this.base + DONE, seen);
      Atomics.notify(c, this.base + DONE);
      wakeExchange(c, this.layout, this.setup.replica);
      if (command === STOP) return;
    }
  }

  /** Tells the calling thread that this replica's thread is exiting (with `code`): its waits end with an error. */
  exited(code: number): void {
    this.fail(`exited with code ${code}`);
    Atomics.store(this.control, this.base + DONE, EXITED);
    Atomics.notify(this.control, this.base + DONE);
    Atomics.notify(this.control, CHUNKS_DONE);
    wakeExchange(this.control, this.layout, this.setup.replica);
  }

  private fail(message: string): void {
    const at = this.layout.error(this.setup.replica);
    const length = Math.min(message.length, ERROR_CHARS);
    for (let i = 0; i < length; i++) this.text[at + i] = message.charCodeAt(i);
    this.control[this.base + ERROR_LENGTH] = length;
    this.control[this.base + STATUS] = FAILED_STATUS;
  }

  private run(command: number): void {
    const c = this.control;
    const r = this.setup.replica;
    if (command === OPTIMIZE) {
      this.chunkRunner.run(kernels.optimizerKernels.resolve().kernel, c[SEQ]!, this.spin);
      return;
    }
    for (let i = 0; i < this.modules.length; i++) this.modules[i]!.training = c[this.layout.training + i] === 1;
    for (let i = 0; i < this.parameters.length; i++) this.parameters[i]!.requiresGrad = c[this.layout.requiresGrad + i] === 1;
    // The calling thread wrote these entries (an optimizer step, loadStateDict, running statistics, a
    // replaced tensor): what this replica prepared from them (a folded BatchNorm, a convolution's
    // prepared weights, a compiled graph) is stale. Entries it did not write keep their versions.
    const parameters = this.parameters.length;
    for (let i = 0; i < this.writes.length; i++) {
      const count = c[this.layout.writes + i]!;
      if (count === this.writes[i]) continue;
      this.writes[i] = count;
      (i < parameters ? this.parameters[i]! : this.buffers[i - parameters]!).bumpVersion();
    }
    const first = c[FIRST_WORKER_ROW]!;
    const seq = c[SEQ]!;
    const inputShape = readShape(c, INPUT_DIMS);
    const model = this.replica.model as unknown as { forward(x: Tensor): unknown };
    if (command === FORWARD) {
      const start = c[this.layout.bounds + r]!;
      const end = c[this.layout.bounds + r + 1]!;
      const input = this.rows(c[INPUT_BUFFER]!, c[INPUT_DTYPE]!, inputShape, c[INPUT_OFFSET]!, start - first, end - start);
      this.writeOutput(checkOutput(noGrad(() => model.forward(input)), end - start), r, start - first);
      return;
    }
    const targetShape = readShape(c, TARGET_DIMS);
    for (const p of this.parameters) p.grad = null;
    const own = this.own;
    let kept = -1;
    try {
      for (let k = nextChunk(c, r, -1, seq); k !== -1; ) {
        const start = c[this.layout.bounds + k]!;
        const end = c[this.layout.bounds + k + 1]!;
        const input = this.rows(c[INPUT_BUFFER]!, c[INPUT_DTYPE]!, inputShape, c[INPUT_OFFSET]!, start - first, end - start);
        const target = this.rows(c[TARGET_BUFFER]!, c[TARGET_DTYPE]!, targetShape, c[TARGET_OFFSET]!, start - first, end - start);
        const output = checkOutput(model.forward(input), end - start);
        const loss = applyLoss(this.replica.loss, output, target);
        if (!(loss instanceof Tensor) || loss.size !== 1) {
          throw new Error(`the loss must reduce the shard to a scalar, but returned ${loss instanceof Tensor ? `shape [${loss.shape.join(", ")}]` : typeof loss}`);
        }
        const weight = c[LOSS_SUM] === 1 ? 1 : (end - start) / c[BATCH]!;
        this.losses[this.layout.loss(k)] = loss.item();
        if (loss.requiresGrad) loss.backward(Tensor.full(loss.shape, weight, { dtype: loss.dtype }));
        this.writeOutput(output, k, start - first);
        // Claimed before this chunk is published: its last chunk's own slice need not be copied.
        const next = nextChunk(c, r, k, seq);
        if (next === -1) kept = k;
        finishChunk(c, this.layout, this.sum, k, this.parameters, r, next === -1 ? own : null);
        k = next;
      }
    } catch (error) {
      abortStep(c, seq);
      throw error;
    }
    if (!awaitChunks(c, this.layout, seq, this.spin)) {
      recycleGradients(own);
      return;
    }
    try {
      this.sum.sumSlices(r, c[CHUNKS]!, kept, own);
    } catch (error) {
      markSummed(c, true);
      throw error;
    }
    markSummed(c);
    recycleGradients(own);
    // A trainStep: this replica claims chunks of the update once every thread's sum is done (see split-optimizer.ts).
    if (c[STEP_OPTIMIZES] === 1 && awaitSums(c, this.layout, seq, this.spin)) this.chunkRunner.run(kernels.optimizerKernels.resolve().kernel, seq, this.spin);
  }

  /**
   * `count` rows, from row `row`, of the array at `byteOffset` of the data buffer (DATA_BUFFER) or the
   * staging buffer (STAGED_BUFFER), of dtype `code` and whole shape `shape`, as a tensor viewing them.
   */
  private rows(buffer: number, code: number, shape: number[], byteOffset: number, row: number, count: number): Tensor {
    let rowSize = 1;
    for (let i = 1; i < shape.length; i++) rowSize *= shape[i]!;
    const view = viewOf(buffer === STAGED_BUFFER ? this.setup.staging : this.setup.data, code, byteOffset + row * rowSize * bytesOf(code), count * rowSize);
    return tensor(view, { shape: [count, ...shape.slice(1)] });
  }

  /** Writes chunk `k`'s output (replica k's shard's, under FORWARD) at row `row` of the workers' part of the output, and its dtype and shape. */
  private writeOutput(output: Tensor, k: number, row: number): void {
    const c = this.control;
    const code = dtypeCode(output.dtype);
    const rowSize = output.size / output.shape[0]!;
    const offset = c[OUTPUT_OFFSET]! + row * rowSize * bytesOf(code);
    growTo(this.setup.data, offset + output.size * bytesOf(code));
    viewOf(this.setup.data, code, offset, output.size).set(kernels.packed(output.data).data);
    const at = this.layout.chunk(k);
    c[at + CHUNK_REPLICA] = this.setup.replica;
    c[at + OUTPUT_DTYPE] = code;
    writeShape(c, at + OUTPUT_DIMS, output.shape);
  }
}

/** The model's output, which must be a tensor with the shard's rows first (so that the batch's output can be gathered). */
export function checkOutput(output: unknown, rows: number): Tensor {
  if (!(output instanceof Tensor)) throw new Error(`the model's forward must return a Tensor, but returned ${typeof output}`);
  if (output.ndim < 1 || output.ndim > MAX_DIMS || output.shape[0] !== rows) {
    throw new Error(`the model's output must have one row per sample (shape [${rows}, ...] for a shard of ${rows}, at most ${MAX_DIMS} dimensions), but has shape [${output.shape.join(", ")}]`);
  }
  return output;
}
