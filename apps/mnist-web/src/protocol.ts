// Messages between the page (main.ts) and the model worker (model-worker.ts).

/** The page's canvas pixels, RGBA as in ImageData. */
export interface CanvasPixels {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type ToWorker =
  | { type: "init"; threads: number }
  | { type: "train"; on: boolean }
  | { type: "predict"; id: number; pixels: CanvasPixels }
  | { type: "load"; name: string; bytes: Uint8Array }
  | { type: "save" };

export interface KernelLine {
  /** The kernel backend of the GEMM and the convolution, e.g. "wasm". */
  gemm: string;
  conv2d: string;
  simd: boolean;
  relaxedSimd: boolean;
  threads: number;
  threadsAsked: number;
  /** @pico/core's describeKernels line, the one mnist-train prints too. */
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
  | { type: "progress"; progress: Progress }
  | { type: "accuracy"; step: number; accuracy: number; count: number }
  | { type: "training"; on: boolean }
  | { type: "prediction"; id: number; probabilities: number[] | null; note: string | null }
  | { type: "loaded"; name: string; model: string }
  | { type: "saved"; bytes: Uint8Array }
  | { type: "error"; message: string }
  /** A fast path of the kernels that cannot run here: what is lost and how to get it (@pico/core's warning). */
  | { type: "warning"; message: string };
