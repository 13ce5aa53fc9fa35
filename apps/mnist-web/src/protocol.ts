// Messages between the page (main.ts) and the model worker (model-worker.ts).
import type { WebModelName } from "./models.js";

/** The page's canvas pixels, RGBA as in ImageData. */
export interface CanvasPixels {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** How training uses several threads: one model replica per thread, or one model with its kernels split. */
export type Parallelism = "data" | "kernels";

export type ToWorker =
  /** `unhandled`: the count of messages the page sent and the Worker has not handled yet (an Int32Array's buffer), or null where memory cannot be shared. */
  /** `chunkRows`: data-parallel, the batch in chunks of at most this many rows claimed by whichever replica is free (DataParallel's chunkRows), or null: one shard per replica. */
  | { type: "init"; threads: number; parallel: Parallelism; chunkRows: number | null; unhandled: SharedArrayBuffer | null }
  | { type: "train"; on: boolean }
  | { type: "predict"; id: number; pixels: CanvasPixels }
  | { type: "load"; name: string; bytes: Uint8Array }
  | { type: "save" };

/** The model's Worker to a replica Worker, before @pico/nn's setup: which model to build. */
export type ToReplica = { type: "model"; name: WebModelName };

export interface KernelLine {
  /** The kernel backend of the GEMM and the convolution, e.g. "wasm". */
  gemm: string;
  conv2d: string;
  simd: boolean;
  relaxedSimd: boolean;
  /** Threads that train: the replicas' (data-parallel) or the kernels' (one model). */
  threads: number;
  threadsAsked: number;
  /** "data": one model replica per thread; "kernels": one model, its kernels split across the threads; "none": one thread. */
  parallel: Parallelism | "none";
  /** Model replicas (1 unless data-parallel). */
  replicas: number;
  /** Threads each replica's kernels run on. */
  kernelThreads: number;
  /** @pico/core's describeKernels line (the one mnist-train prints too), and how the threads share the work. */
  text: string;
}

export interface Progress {
  step: number;
  epoch: number;
  /** Mean training loss over the steps since the last report. */
  loss: number;
  imagesPerSecond: number;
  /** Training images seen so far. */
  seen: number;
}

export type FromWorker =
  | { type: "loading"; what: string }
  | { type: "ready"; kernels: KernelLine; model: string; trainSize: number; testSize: number }
  /** The threads changed (a loaded model that cannot train data-parallel, a replica that failed). */
  | { type: "kernels"; kernels: KernelLine }
  | { type: "progress"; progress: Progress }
  | { type: "accuracy"; step: number; accuracy: number; count: number }
  | { type: "training"; on: boolean }
  | { type: "prediction"; id: number; probabilities: number[] | null; note: string | null }
  | { type: "loaded"; name: string; model: string }
  | { type: "saved"; bytes: Uint8Array }
  | { type: "error"; message: string }
  /** A fast path of the kernels that cannot run here: what is lost and how to get it (@pico/core's warning). */
  | { type: "warning"; message: string };
