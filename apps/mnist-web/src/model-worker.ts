// The dedicated Worker that owns the model: it trains, evaluates, predicts, loads and saves. It is the
// kernels' calling thread, so it may block on Atomics.wait while the kernel workers of threads-web run.
import { type Tensor, describeKernels, kernelInfo, noGrad, onFastPathWarning, tensor } from "@pico/core";
import { enableThreads } from "@pico/core/threads-web";
import {
  type Batch,
  DataLoader,
  MNIST_MEAN,
  MNIST_STD,
  type MnistDigits,
  NoInkError,
  Subset,
  checkStateDictCompatible,
  decodeCheckpoint,
  decodeSafetensors,
  encodeSafetensors,
  mnistDigitFromPixels,
  normalize,
} from "@pico/data/bytes";
import { CrossEntropyLoss, type Module } from "@pico/nn";
import { Adam } from "@pico/optim";
import { loadMnist } from "./mnist-files.js";
import { type WebModelName, buildModel, modelNameOf } from "./models.js";
import type { CanvasPixels, FromWorker, KernelLine, ToWorker } from "./protocol.js";

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

// @pico/core's warnings (threads that cannot start, no relaxed SIMD, no WebAssembly SIMD) go to the
// console as usual and to the page, which shows them under the kernels line.
onFastPathWarning((warning) => {
  console.warn(warning.message);
  post({ type: "warning", message: warning.message });
});

const BATCH = 64;
const LEARNING_RATE = 1e-3;
/** Test accuracy is measured on the first TEST_SUBSET test images while training (about 30 ms), every EVAL_MS. */
const TEST_SUBSET = 2000;
const EVAL_MS = 2000;
const REPORT_MS = 250;
const SPEED_WINDOW = 8;

let modelName: WebModelName = "lenet";
let model: Module<[Tensor], Tensor> = buildModel(modelName) as Module<[Tensor], Tensor>;
let optimizer = new Adam(model.parameters(), { lr: LEARNING_RATE });
const lossFn = new CrossEntropyLoss();
let trainLoader: DataLoader | null = null;
let testLoader: DataLoader | null = null;
let batches: Iterator<Batch> | null = null;
let epoch = 0;
let step = 0;
let seen = 0;
let training = false;
let looping = false;

// A zero-delay turn of the event loop (setTimeout is clamped to 4 ms when nested), so that the page's
// messages (a prediction, a pause) are handled between training steps.
const turn = new MessageChannel();
let resume: (() => void) | null = null;
turn.port1.onmessage = () => resume?.();
const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    resume = resolve;
    turn.port2.postMessage(0);
  });

function kernelLine(threadsAsked: number): KernelLine {
  const info = kernelInfo();
  return {
    gemm: info.families["gemm"]?.backend ?? "none",
    conv2d: info.families["conv2d"]?.backend ?? "none",
    simd: info.wasm.simd,
    relaxedSimd: info.wasm.relaxedSimd,
    threads: info.threads,
    threadsAsked,
    text: describeKernels(info, threadsAsked),
  };
}

async function init(threads: number): Promise<void> {
  // Where threads cannot start, a warning says why and how to get them.
  if (threads > 1) await enableThreads(threads);
  // One inference compiles the WebAssembly kernels, so that the report says what runs.
  noGrad(() => model.forward(tensor(new Float32Array(28 * 28), { shape: [1, 1, 28, 28] })));
  post({ type: "loading", what: "MNIST (11 MB, gzip)" });
  const [train, test] = await Promise.all([loadMnist(true), loadMnist(false)]);
  const transform = normalize(MNIST_MEAN, MNIST_STD);
  trainLoader = new DataLoader(train, { batchSize: BATCH, shuffle: true, seed: 0, transform });
  testLoader = new DataLoader(firstOf(test, TEST_SUBSET), { batchSize: 500, transform });
  post({ type: "ready", kernels: kernelLine(threads), model: modelName, trainSize: train.length, testSize: TEST_SUBSET });
  await reportAccuracy();
}

function firstOf(dataset: MnistDigits, count: number): Subset {
  return new Subset(dataset, Array.from({ length: Math.min(count, dataset.length) }, (_, i) => i));
}

function nextBatch(loader: DataLoader): Batch {
  for (;;) {
    batches ??= loader.batches(epoch);
    const next = batches.next();
    if (!next.done) return next.value;
    batches = null;
    epoch++;
  }
}

function trainStep(loader: DataLoader): { loss: number; images: number } {
  const [inputs, targets] = nextBatch(loader);
  const loss = lossFn.forward(model.forward(inputs), targets);
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
  step++;
  seen += targets.size;
  return { loss: loss.item(), images: targets.size };
}

/** Accuracy on the test subset, a batch at a time with a turn of the event loop between, so drawing stays live. */
async function testAccuracy(loader: DataLoader): Promise<number> {
  let correct = 0;
  for (const [inputs, targets] of loader.batches(0)) {
    const wasTraining = model.training;
    model.eval();
    const predicted = noGrad(() => model.forward(inputs).argmax(1).toTypedArray());
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
  if (looping || trainLoader === null) return;
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
        const result = trainStep(trainLoader);
        busy += performance.now() - before;
        images += result.images;
        lossSum += result.loss;
        steps++;
        await nextTurn();
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
      return init(message.threads);
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
  try {
    const done = handle(event.data);
    if (done instanceof Promise) done.catch((error: unknown) => post({ type: "error", message: errorText(error) }));
  } catch (error) {
    post({ type: "error", message: errorText(error) });
  }
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
