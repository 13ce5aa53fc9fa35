import "uplot/dist/uPlot.min.css";
import { TrainingChart } from "./chart.js";
import { DrawingPad } from "./drawing-pad.js";
import type { FromWorker, KernelLine, Parallelism, Progress, ToWorker } from "./protocol.js";

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`mnist-web: the page has no #${id}`);
  return found as T;
};

const toggle = element<HTMLButtonElement>("train-toggle");
const status = element("status");
const lossText = element("loss");
const accuracyText = element("accuracy");
const speedText = element("speed");
const stepText = element("step");
const accuracyNote = element("accuracy-note");
const kernelsText = element("kernels");
const warningsList = element<HTMLUListElement>("warnings");
const predictionText = element("prediction");
const top3 = element<HTMLOListElement>("top3");
const predictionNote = element("prediction-note");
const latencyText = element("latency");
const modelStatus = element("model-status");
const fileInput = element<HTMLInputElement>("model-file");
const drop = element("drop");

const query = new URLSearchParams(location.search);

/** Threads to train on: ?threads=N (1 to 16), else the machine's cores (at most 4, as the trainer). */
function threadsWanted(): number {
  const cores = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
  const asked = query.get("threads");
  if (asked === null) return cores;
  if (/^[1-9][0-9]?$/.test(asked) && Number(asked) <= 16) return Number(asked);
  showWarning(`?threads=${asked} is not a number of threads from 1 to 16: training on the ${cores} core${cores === 1 ? "" : "s"} of this machine.`);
  return cores;
}

/**
 * How the threads share training: ?parallel=kernels (one model, its kernels split: the default, as fast as
 * data-parallel within the noise on a quiet machine and far less hurt beside another busy process,
 * apps/mnist-web/README.md#two-threads) or data (one model replica per thread).
 */
function parallelWanted(): Parallelism {
  const asked = query.get("parallel");
  if (asked === null || asked === "data" || asked === "kernels") return asked ?? "kernels";
  showWarning(`?parallel=${asked} is not a way to share the threads (kernels or data): the kernels split across them.`);
  return "kernels";
}

/**
 * Data-parallel, ?chunk-rows=N (1 to 64): the batch in chunks of at most N rows that whichever replica is
 * free claims, instead of one shard per replica (the default: measured as fast or faster in this page,
 * apps/mnist-web/README.md#two-threads).
 */
function chunkRowsWanted(): number | null {
  const asked = query.get("chunk-rows");
  if (asked === null) return null;
  if (/^[1-9][0-9]?$/.test(asked) && Number(asked) <= 64) return Number(asked);
  showWarning(`?chunk-rows=${asked} is not a number of rows from 1 to 64: one shard per replica.`);
  return null;
}

function showWarning(message: string): void {
  const item = document.createElement("li");
  item.textContent = message;
  warningsList.append(item);
}

function showKernels(kernels: KernelLine): void {
  kernelsText.textContent = kernels.text;
  kernelsText.dataset.threads = String(kernels.threads);
  kernelsText.dataset.parallel = kernels.parallel;
  kernelsText.dataset.replicas = String(kernels.replicas);
  kernelsText.dataset.kernelThreads = String(kernels.kernelThreads);
  kernelsText.dataset.gemm = kernels.gemm;
}

const worker = new Worker(new URL("./model-worker.ts", import.meta.url), { type: "module", name: "pico-model" });
// How many messages the Worker has still to handle (see model-worker.ts): it turns its event loop between training steps only when one waits.
const unhandled = crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
const send = (message: ToWorker, transfer: Transferable[] = []): void => {
  if (unhandled !== null) Atomics.add(unhandled, 0, 1);
  worker.postMessage(message, transfer);
};
const chart = new TrainingChart(element("chart"));
let training = false;

const pad = new DrawingPad(element<HTMLCanvasElement>("draw-canvas"), (id, pixels) => send({ type: "predict", id, pixels }, [pixels.data.buffer]));
element<HTMLButtonElement>("clear").addEventListener("click", () => {
  pad.clear();
  showPrediction(null, "Draw a digit in the box: the network's three likeliest digits show here as you draw.");
});

let predictions = 0;

function showPrediction(probabilities: number[] | null, note: string | null): void {
  top3.replaceChildren();
  predictionText.dataset.count = String(++predictions);
  predictionNote.hidden = probabilities !== null;
  if (probabilities === null) {
    predictionText.textContent = "?";
    predictionNote.textContent = note ?? "";
    return;
  }
  const ranked = probabilities.map((p, digit) => ({ p, digit })).sort((a, b) => b.p - a.p).slice(0, 3);
  predictionText.textContent = String(ranked[0]!.digit);
  for (const { p, digit } of ranked) {
    const row = document.createElement("li");
    row.dataset.digit = String(digit);
    row.dataset.probability = String(p);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${Math.max(1, p * 100)}%`;
    const name = document.createElement("span");
    name.textContent = String(digit);
    const value = document.createElement("span");
    value.textContent = `${(p * 100).toFixed(1)}%`;
    row.append(name, bar, value);
    top3.append(row);
  }
}

/**
 * While training, the figures and the chart are drawn at most once every FIGURES_MS (the Worker reports 4
 * times a second): every frame the page draws (style, layout, paint, raster, composite, and Chromium's hover
 * hit test after a layout) takes CPU time from the cores the training threads use. Paused, each report shows
 * at once.
 */
const FIGURES_MS = 1000;
/** The latest report and test accuracy not yet shown (null: shown, or none yet). */
let progress: Progress | null = null;
let accuracy: number | null = null;
let figuresShownAt = -Infinity;
let figuresTimer: ReturnType<typeof setTimeout> | null = null;

function showFigures(): void {
  if (training) {
    figuresTimer ??= setTimeout(drawFigures, Math.max(0, figuresShownAt + FIGURES_MS - performance.now()));
    return;
  }
  if (figuresTimer !== null) clearTimeout(figuresTimer);
  drawFigures();
}

function drawFigures(): void {
  figuresTimer = null;
  figuresShownAt = performance.now();
  if (progress !== null) {
    lossText.textContent = progress.loss.toFixed(4);
    lossText.dataset.value = String(progress.loss);
    speedText.textContent = Math.round(progress.imagesPerSecond).toLocaleString("en");
    speedText.dataset.value = String(progress.imagesPerSecond);
    stepText.textContent = `${progress.step} · ${progress.epoch + 1}`;
    progress = null;
  }
  if (accuracy !== null) {
    accuracyText.textContent = `${(accuracy * 100).toFixed(1)}%`;
    accuracyText.dataset.value = String(accuracy);
    accuracy = null;
  }
  chart.draw();
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "loading":
      status.textContent = `loading ${message.what}…`;
      break;
    case "ready":
      showKernels(message.kernels);
      status.textContent = `ready: ${message.trainSize.toLocaleString("en")} training images`;
      accuracyNote.textContent = `Test accuracy on the first ${message.testSize.toLocaleString("en")} MNIST test images; Adam (lr 1e-3), batch 64.`;
      toggle.disabled = false;
      break;
    case "progress":
      progress = message.progress;
      chart.addLoss(progress.step, progress.loss);
      showFigures();
      break;
    case "accuracy":
      accuracy = message.accuracy;
      chart.addAccuracy(message.step, message.accuracy);
      showFigures();
      break;
    case "training":
      training = message.on;
      showFigures();
      if (training && modelStatus.textContent?.endsWith("untrained")) modelStatus.textContent = "model: lenet (the reference network), trained in this page";
      toggle.textContent = training ? "Pause" : stepText.textContent === "–" ? "Train" : "Resume";
      status.textContent = training ? "training…" : "paused";
      break;
    case "prediction":
      showPrediction(message.probabilities, message.note);
      pad.answered(message.id, latencyText);
      break;
    case "loaded":
      modelStatus.className = "note";
      modelStatus.textContent = `model: ${message.model}, loaded from ${message.name}`;
      pad.repredict();
      break;
    case "saved":
      download(message.bytes, "model.safetensors");
      modelStatus.className = "note";
      modelStatus.textContent = `saved model.safetensors (${message.bytes.length.toLocaleString("en")} bytes)`;
      break;
    case "kernels":
      showKernels(message.kernels);
      break;
    case "warning":
      showWarning(message.message);
      break;
    case "error":
      modelStatus.className = "note error";
      modelStatus.textContent = message.message;
      break;
  }
};

toggle.addEventListener("click", () => send({ type: "train", on: !training }));
element<HTMLButtonElement>("save").addEventListener("click", () => send({ type: "save" }));

async function loadFile(file: File): Promise<void> {
  if (/\.safetensors$/i.test(file.name)) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    send({ type: "load", name: file.name, bytes }, [bytes.buffer]);
  } else if (file.type.startsWith("image/")) {
    await pad.drawPicture(file);
  } else {
    modelStatus.className = "note error";
    modelStatus.textContent = `${file.name}: drop a .safetensors model file, or a picture of a digit on the canvas`;
  }
}

fileInput.addEventListener("change", () => {
  const file = fileInput.files?.[0];
  if (file !== undefined) void loadFile(file);
  fileInput.value = "";
});
for (const target of [drop, element("draw-canvas")]) {
  target.addEventListener("dragover", (event) => {
    event.preventDefault();
    target.classList.add("over");
  });
  target.addEventListener("dragleave", () => target.classList.remove("over"));
  target.addEventListener("drop", (event) => {
    event.preventDefault();
    target.classList.remove("over");
    const file = event.dataTransfer?.files[0];
    if (file !== undefined) void loadFile(file);
  });
}

send({ type: "init", threads: threadsWanted(), parallel: parallelWanted(), chunkRows: chunkRowsWanted(), unhandled: unhandled === null ? null : (unhandled.buffer as SharedArrayBuffer) });
