// The dedicated Worker that owns the model: it trains, evaluates, predicts, loads and saves. It is the
// calling thread of the data-parallel replicas (@pico/nn/data-parallel-web) and of the kernels' threads
// (@pico/core/threads-web), so it may block on Atomics.wait while they run.
import { type Tensor, describeKernels, kernelInfo, kernels, noGrad, onFastPathWarning, tensor } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads-web";
import {
  type Batch,
  DataLoader,
  type MnistDigits,
  NoInkError,
  Subset,
  checkStateDictCompatible,
  decodeCheckpoint,
  decodeSafetensors,
  encodeSafetensors,
  mnistDigitFromPixels,
} from "@pico/data/bytes";
import { CrossEntropyLoss, type Module } from "@pico/nn";
import { type DataParallel, type DataParallelSplit, dataParallel, webDataParallelUnavailable } from "@pico/nn/data-parallel-web";
import { Adam } from "@pico/optim";
import { loadMnist } from "./mnist-files.js";
import { type WebModelName, buildModel, modelNameOf } from "./models.js";
import { FailedBeforeGradientsError, FailedInUpdateError, parallelTrainStep } from "./parallel-train-step.js";
import type { CanvasPixels, FromWorker, KernelLine, Parallelism, ToReplica, ToWorker } from "./protocol.js";
import { withStateKept } from "./state-kept.js";

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

// @pico/core's warnings (threads that cannot start, no relaxed SIMD, no WebAssembly SIMD) and the page's own
// (data-parallel training that cannot run) go to the console and to the page, under the kernels line.
const warn = (message: string): void => {
  console.warn(message);
  post({ type: "warning", message });
};
onFastPathWarning((warning) => warn(warning.message));

const BATCH = 64;
const LEARNING_RATE = 1e-3;
/** Test accuracy is measured on the first TEST_SUBSET test images while training (about 30 ms), every EVAL_MS. */
const TEST_SUBSET = 2000;
const EVAL_MS = 2000;
/** Test images per batch of the evaluation: the page's messages wait for at most one batch (resnet's take about 10x lenet's). */
const TEST_BATCH = 200;
const REPORT_MS = 250;
const SPEED_WINDOW = 8;
/**
 * How often a data-parallel Worker checks for its signal before it sleeps (the library's default is
 * 1,000,000, about 10 ms). Measured in this page (alternating runs, 8 s each, 2 cores): beside a process
 * that holds a core, the default's waiting Worker held the other core while the one it waited for had none
 * (7,100-7,200 img/s), 60,000 polls 10,500-11,500 and 20,000 11,100-11,900; on the quiet machine 60,000
 * measured as the default (19,800-20,400 against 19,200-19,500) and 20,000 less (16,500-18,900).
 */
const REPLICA_POLLS = 60_000;

let modelName: WebModelName = "lenet";
let model: Module<[Tensor], Tensor> = buildModel(modelName) as Module<[Tensor], Tensor>;
let optimizer = new Adam(model.parameters(), { lr: LEARNING_RATE });
const lossFn = new CrossEntropyLoss();
let trainSet: MnistDigits | null = null;
let trainBatches: DataLoader | null = null;
/**
 * Where trainBatches writes its batches: the replicas' batchBuffer (data-parallel), the kernel threads'
 * shared memory ("kernel-threads": the first convolution reads the batch where it is, forward and backward,
 * instead of copying it in on this thread twice a step), or this Worker's own memory (null).
 */
type BatchHome = DataParallel | "kernel-threads" | null;
let trainBatchesFor: BatchHome = null;
let testLoader: DataLoader | null = null;
let batches: Iterator<Batch> | null = null;
let epoch = 0;
/** The next batch of the epoch (where a new loader resumes). */
let batchInEpoch = 0;
let step = 0;
let seen = 0;
let training = false;
let looping = false;
let threadsAsked = 1;
let parallelAsked: Parallelism = "data";
/** Data-parallel: rows of a chunk (DataParallel's chunkRows), or null: one shard per replica. */
let chunkRowsAsked: number | null = null;
/** The replicas when training data-parallel. */
let dp: DataParallel | null = null;
let kernelThreads = false;
/** The last change of threads (at start and after a model is loaded); the next waits for it. */
let threadsSettled: Promise<void> = Promise.resolve();

// A zero-delay turn of the event loop (setTimeout is clamped to 4 ms when nested), so that the page's
// messages (a prediction, a pause) are handled between training steps. Training and an evaluation (after
// a model is loaded mid-training) may wait for turns at the same time: each turn's message resumes the
// longest waiting.
const turn = new MessageChannel();
const resumes: (() => void)[] = [];
turn.port1.onmessage = () => resumes.shift()?.();
const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    resumes.push(resolve);
    turn.port2.postMessage(0);
  });
/**
 * Messages the page has sent and this Worker not yet handled, counted by both in shared memory (when the
 * page is cross-origin isolated): training turns the event loop only when one is waiting (or to report),
 * instead of after every step (a turn took 0.1-0.2 ms of a 3-4 ms step in Chromium, as long as the
 * gradients' addition). Null otherwise: a turn after every step.
 */
let unhandled: Int32Array | null = null;
/** The longest a training step waits for a message the page has sent but that has not arrived yet. */
const ARRIVAL_MS = 5;

/**
 * Lets the page's messages in between two training steps: turns the event loop until those the page has
 * sent are handled (a message on its way arrives after a turn of this Worker's own), at most ARRIVAL_MS;
 * not isolated, once after every step.
 */
async function letPageIn(): Promise<void> {
  if (unhandled === null) return nextTurn();
  const since = performance.now();
  while (Atomics.load(unhandled, 0) > 0 && performance.now() - since < ARRIVAL_MS) await nextTurn();
}

function kernelLine(): KernelLine {
  const info = kernelInfo();
  const line = {
    gemm: info.families["gemm"]?.backend ?? "none",
    conv2d: info.families["conv2d"]?.backend ?? "none",
    simd: info.wasm.simd,
    relaxedSimd: info.wasm.relaxedSimd,
    threadsAsked,
    kernelThreads: info.threads,
  };
  if (dp !== null) {
    const text = `${describeKernels(info)} × ${dp.replicas} replicas, data-parallel${splitText(dp.lastSplit)}`;
    return { ...line, threads: dp.replicas, parallel: "data", replicas: dp.replicas, text };
  }
  return { ...line, threads: info.threads, parallel: info.threads > 1 ? "kernels" : "none", replicas: 1, text: describeKernels(info, threadsAsked) };
}

/**
 * How DataParallel cut its last batch (firstStep's, of a training batch's rows, until training runs): by
 * shards, or by chunks claimed by whichever replica is free (chunkRows asked, and no BatchNorm layer
 * normalising with batch statistics, which runs by shards).
 */
function splitText(split: DataParallelSplit | null): string {
  if (split === null) return "";
  const { bounds } = split;
  const parts = bounds.length - 1;
  let small = Infinity;
  let large = 0;
  for (let k = 0; k < parts; k++) {
    small = Math.min(small, bounds[k + 1]! - bounds[k]!);
    large = Math.max(large, bounds[k + 1]! - bounds[k]!);
  }
  const rows = small === large ? `${small}` : `${small}-${large}`;
  if (split.mode === "shards") return ` (batch ${bounds[parts]} in shards of ${rows})`;
  return ` (batch ${bounds[parts]} in ${parts} chunks of ${rows}, each claimed by a free replica)`;
}

/** A replica Worker for the model the page runs now (Vite bundles the script from this `new Worker(new URL(...))`). */
function startReplica(): Worker {
  const worker = new Worker(new URL("./replica-worker.ts", import.meta.url), { type: "module", name: "pico-replica" });
  const message: ToReplica = { type: "model", name: modelName };
  worker.postMessage(message);
  return worker;
}

/**
 * Spreads training over the threads asked for: one model replica per thread (data-parallel), else, or
 * when asked with ?parallel=kernels, one model whose kernels split across the threads. Where neither can
 * run, the model trains on this thread, and a warning says why.
 */
async function setUpThreads(): Promise<void> {
  await stopDataParallel();
  if (threadsAsked > 1 && parallelAsked === "data") {
    if (webDataParallelUnavailable() !== null) {
      // What the kernels' threads need too (cross-origin isolation, Web Workers): nothing else to try.
      try {
        await dataParallel(model, lossFn, { replicas: threadsAsked, worker: startReplica, chunkRows: chunkRowsAsked });
      } catch (error) {
        warn(`Pico: ${threadsAsked} threads were asked for, but the model trains on one: ${errorText(error)}`);
      }
      return;
    }
    if (kernelThreads) {
      await disableThreads();
      kernelThreads = false;
    }
    let parallel: DataParallel | null = null;
    try {
      parallel = await dataParallel(model, lossFn, { replicas: threadsAsked, worker: startReplica, polls: REPLICA_POLLS, chunkRows: chunkRowsAsked });
    } catch (error) {
      warn(`Pico: the ${threadsAsked} data-parallel replicas could not start (${errorText(error)}); the kernels split across the threads instead.`);
    }
    if (parallel !== null) {
      try {
        firstStep(parallel);
        dp = parallel;
        return;
      } catch (error) {
        await parallel.close();
        warn(splitRefused(error));
      }
    }
  }
  // Where the kernels' threads cannot start, @pico/core's warning says why and how to get them.
  if (threadsAsked > 1 && !kernelThreads) kernelThreads = await enableThreads(threadsAsked);
}

/**
 * A step on a training batch of blank images, whose results nobody uses: it finds out whether the model
 * can be trained by batch shards at all (Dropout in training mode cannot) before training needs it, runs
 * the replicas' kernels once (their WebAssembly compiles then) and cuts the batch as training will
 * (dp.lastSplit, which the kernels line shows). The model keeps its running statistics (a loaded or
 * trained model's BatchNorm would move towards the blank batch's) and gradients.
 */
function firstStep(parallel: DataParallel): void {
  const wasTraining = model.training;
  model.train();
  try {
    const rows = BATCH;
    withStateKept(model, () =>
      parallel.forwardBackward(tensor(new Float32Array(rows * 28 * 28), { shape: [rows, 1, 28, 28] }), tensor(new Float32Array(rows), { shape: [rows] })),
    );
  } finally {
    if (!wasTraining) model.eval();
  }
}

const splitRefused = (error: unknown): string =>
  `Pico: ${modelName} does not train data-parallel here (${errorText(error)}); the kernels split across the ${threadsAsked} threads instead.`;

async function stopDataParallel(): Promise<void> {
  const running = dp;
  dp = null;
  await running?.close();
}

/** Runs `change` after the previous change of threads (whether or not that one failed), then shows the new kernel line. */
function changeThreads(change: () => Promise<void>): Promise<void> {
  threadsSettled = threadsSettled
    .catch(() => undefined)
    .then(change)
    .finally(() => post({ type: "kernels", kernels: kernelLine() }));
  return threadsSettled;
}

async function init(threads: number, parallel: Parallelism, chunkRows: number | null): Promise<void> {
  threadsAsked = threads;
  parallelAsked = parallel;
  chunkRowsAsked = chunkRows;
  await changeThreads(setUpThreads);
  // One inference compiles the WebAssembly kernels, so that the report says what runs.
  noGrad(() => model.forward(tensor(new Float32Array(28 * 28), { shape: [1, 1, 28, 28] })));
  post({ type: "loading", what: "MNIST (11 MB, gzip)" });
  const [train, test] = await Promise.all([loadMnist(true), loadMnist(false)]);
  trainSet = train;
  trainBatches = trainLoader(train, batchHome());
  testLoader = new DataLoader(firstOf(test, TEST_SUBSET), { batchSize: TEST_BATCH, reuseBuffer: true });
  post({ type: "ready", kernels: kernelLine(), model: modelName, trainSize: train.length, testSize: TEST_SUBSET });
  await reportAccuracy();
}

function firstOf(dataset: MnistDigits, count: number): Subset {
  return new Subset(dataset, Array.from({ length: Math.min(count, dataset.length) }, (_, i) => i));
}

/** Where the batches belong for the threads training now (see BatchHome). */
const batchHome = (): BatchHome => dp ?? (kernelThreads ? "kernel-threads" : null);

/**
 * Each batch is written into the loader's one buffer (a step is done with its batch before it draws the
 * next). Data-parallel, that buffer is the replicas' batchBuffer: they read the batch where it is instead
 * of copying their rows each step. On the kernel threads it is taken from @pico/core's allocator while
 * they run, which places an array that large in their shared memory.
 */
function trainLoader(train: MnistDigits, home: BatchHome): DataLoader {
  trainBatchesFor = home;
  const allocate =
    home === null ? {} : home === "kernel-threads" ? { allocate: (length: number) => kernels.allocate("float32", length) as Float32Array } : { allocate: (length: number) => home.batchBuffer(length) };
  return new DataLoader(train, { batchSize: BATCH, shuffle: true, seed: 0, reuseBuffer: true, ...allocate });
}

/** The loader for the threads training now (a new one where they changed, resuming at the same batch of the same epoch). */
function currentTrainBatches(): DataLoader | null {
  const home = batchHome();
  if (trainSet !== null && trainBatchesFor !== home) {
    trainBatches = trainLoader(trainSet, home);
    batches = null;
  }
  return trainBatches;
}

function nextBatch(loader: DataLoader): Batch {
  for (;;) {
    batches ??= loader.batches(epoch, batchInEpoch);
    const next = batches.next();
    if (!next.done) {
      batchInEpoch++;
      return next.value;
    }
    batches = null;
    epoch++;
    batchInEpoch = 0;
  }
}

/** A training step's loss and images (none: a data-parallel step whose update failed, see parallelStep). */
function trainStep(): { loss: number; images: number } {
  const loader = currentTrainBatches();
  if (loader === null) throw new Error("mnist-web: training started before MNIST was loaded");
  const [inputs, targets] = nextBatch(loader);
  // Gradients zero-filled where they are, not dropped: backward adds into the same arrays instead of handing
  // each parameter a new one every step (146 KB of typed arrays a step on lenet, collected in pauses that
  // stall the step). Data-parallel training writes the gradients itself.
  optimizer.zeroGrad(dp === null ? { setToNone: false } : undefined);
  let loss: number | null;
  if (dp !== null) loss = parallelStep(dp, inputs, targets);
  else {
    loss = forwardBackward(inputs, targets);
    optimizer.step();
  }
  if (loss === null) return { loss: 0, images: 0 };
  step++;
  seen += targets.size;
  return { loss, images: targets.size };
}

function forwardBackward(inputs: Tensor, targets: Tensor): number {
  const loss = lossFn.forward(model.forward(inputs), targets);
  loss.backward();
  return loss.item();
}

/**
 * The step's gradient from the replicas' shards and its update split across them in the same command
 * (dp.trainStep: the same bits as forwardBackward then optimizer.step(), as the bench's data-parallel
 * step). Where the model cannot train by shards or a replica fails, the kernels take the threads from then
 * on; a step that failed before its gradient was in (FailedBeforeGradientsError: the model and the
 * optimizer as they were) runs on this thread instead; one that failed once the optimizer had stepped (in
 * its update, or in a replica's gradient sum after optimizer.step() ran: its error, shown, says what it
 * left) is not run again: null.
 */
function parallelStep(parallel: DataParallel, inputs: Tensor, targets: Tensor): number | null {
  try {
    return parallelTrainStep(parallel, inputs, targets, optimizer, model.parameters());
  } catch (error) {
    handThreadsToKernels(parallel, error instanceof FailedBeforeGradientsError || error instanceof FailedInUpdateError ? error.cause : error);
    if (!(error instanceof FailedBeforeGradientsError)) return null;
    const loss = forwardBackward(inputs, targets);
    optimizer.step();
    return loss;
  }
}

/** Shows why the replicas could not take a step, closes them and gives their threads to the kernels. */
function handThreadsToKernels(parallel: DataParallel, error: unknown): void {
  warn(splitRefused(error));
  dp = null;
  changeThreads(async () => {
    await parallel.close();
    kernelThreads = await enableThreads(threadsAsked);
  }).catch(reportError);
}

/**
 * The model's output for `inputs` by shards on the replicas; where they fail, on this thread (the next
 * training step then finds out and trains with the kernels split, see parallelStep).
 */
function parallelInfer(parallel: DataParallel, inputs: Tensor): Tensor {
  try {
    return parallel.infer(inputs);
  } catch {
    return noGrad(() => model.forward(inputs));
  }
}

/**
 * Accuracy on the test subset, a batch at a time with a turn of the event loop between, so drawing stays
 * live. Data-parallel, the replicas share each batch (DataParallel.infer): the evaluation takes half as
 * long, and the replica keeps checking for work instead of falling asleep meanwhile.
 */
async function testAccuracy(loader: DataLoader): Promise<number> {
  let correct = 0;
  for (const [inputs, targets] of loader.batches(0)) {
    const wasTraining = model.training;
    model.eval();
    const predicted = (dp !== null ? parallelInfer(dp, inputs) : noGrad(() => model.forward(inputs))).argmax(1).toTypedArray();
    if (wasTraining) model.train();
    const truth = targets.toTypedArray();
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === truth[i]) correct++;
    await nextTurn();
  }
  return correct / loader.dataset.length;
}

async function reportAccuracy(): Promise<void> {
  if (testLoader === null) return;
  const at = step;
  post({ type: "accuracy", step: at, accuracy: await testAccuracy(testLoader), count: testLoader.dataset.length });
}

async function trainLoop(): Promise<void> {
  if (looping || trainBatches === null) return;
  looping = true;
  model.train();
  let lastEval = performance.now();
  try {
    while (training) {
      const start = performance.now();
      let busy = 0;
      let images = 0;
      let lossSum = 0;
      let steps = 0;
      while (training && performance.now() - start < REPORT_MS) {
        const before = performance.now();
        const result = trainStep();
        busy += performance.now() - before;
        if (result.images > 0) {
          images += result.images;
          lossSum += result.loss;
          steps++;
        }
        await letPageIn();
      }
      if (steps > 0) post({ type: "progress", progress: { step, epoch, loss: lossSum / steps, imagesPerSecond: speed.add(images, busy), seen } });
      if (performance.now() - lastEval >= EVAL_MS || !training) {
        await reportAccuracy();
        lastEval = performance.now();
      }
      await nextTurn();
    }
  } finally {
    looping = false;
  }
}

/** Images per second of training steps over the last SPEED_WINDOW reports (a single quarter second is noisy). */
class Speed {
  private readonly images: number[] = [];
  private readonly ms: number[] = [];

  add(images: number, ms: number): number {
    this.images.push(images);
    this.ms.push(ms);
    if (this.images.length > SPEED_WINDOW) {
      this.images.shift();
      this.ms.shift();
    }
    return (this.images.reduce((a, b) => a + b, 0) / this.ms.reduce((a, b) => a + b, 0)) * 1000;
  }
}
const speed = new Speed();

function predict(id: number, pixels: CanvasPixels): void {
  let digit: Float32Array;
  try {
    digit = mnistDigitFromPixels({ width: pixels.width, height: pixels.height, data: pixels.data, channels: 4 });
  } catch (error) {
    if (error instanceof NoInkError) return post({ type: "prediction", id, probabilities: null, note: "No ink found: draw a digit in the box, dark on light." });
    throw error;
  }
  const wasTraining = model.training;
  model.eval();
  const probabilities = noGrad(() => model.forward(tensor(digit, { shape: [1, 1, 28, 28] })).softmax(1)).toTypedArray();
  if (wasTraining) model.train();
  post({ type: "prediction", id, probabilities: Array.from(probabilities), note: null });
}

/** Loads a model.safetensors written by mnist-train (or this page), or one of its checkpoints. */
function load(name: string, bytes: Uint8Array): Promise<void> {
  const { metadata } = decodeSafetensors(bytes, name);
  const checkpoint = decodeCheckpoint(bytes, name);
  const loadedName = modelNameOf(name, metadata, checkpoint.extra);
  const next = buildModel(loadedName) as Module<[Tensor], Tensor>;
  checkStateDictCompatible(next.stateDict(), checkpoint.model, name);
  next.loadStateDict(checkpoint.model);
  if (!training) next.eval();
  model = next;
  modelName = loadedName;
  optimizer = new Adam(model.parameters(), { lr: LEARNING_RATE });
  post({ type: "loaded", name, model: loadedName });
  // The replicas hold the previous model: new ones for this one (no step reaches the old ones meanwhile).
  if (threadsAsked > 1 && parallelAsked === "data") {
    const previous = dp;
    dp = null;
    changeThreads(async () => {
      await previous?.close();
      await setUpThreads();
    }).catch(reportError);
  }
  return reportAccuracy();
}

/** The weights alone with the model's name, as mnist-train's saveModelFile writes model.safetensors. */
function save(): void {
  const bytes = encodeSafetensors(model.stateDict(), { model: modelName, framework: "pico.ts" });
  post({ type: "saved", bytes }, [bytes.buffer as ArrayBuffer]);
}

function handle(message: ToWorker): void | Promise<void> {
  switch (message.type) {
    case "init":
      return init(message.threads, message.parallel, message.chunkRows);
    case "train":
      training = message.on;
      post({ type: "training", on: training });
      if (training) return trainLoop();
      return;
    case "predict":
      return predict(message.id, message.pixels);
    case "load":
      return load(message.name, message.bytes);
    case "save":
      return save();
  }
}

scope.onmessage = (event) => {
  if (event.data.type === "init" && event.data.unhandled !== null) unhandled = new Int32Array(event.data.unhandled);
  if (unhandled !== null) Atomics.sub(unhandled, 0, 1);
  try {
    const done = handle(event.data);
    if (done instanceof Promise) done.catch(reportError);
  } catch (error) {
    reportError(error);
  }
};

function reportError(error: unknown): void {
  post({ type: "error", message: errorText(error) });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
