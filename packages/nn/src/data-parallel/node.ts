// Node-only entry (`@pico/nn/data-parallel`): data-parallel training with worker_threads. The main entry
// (`@pico/nn`) holds the runtime-neutral DataParallel and never imports this file; browsers use
// `@pico/nn/data-parallel-web` (Web Workers) instead.
import type { Module } from "../module.js";
import { type LossFunction, type ReplicaBuilder, type ReplicaChannel } from "./channel.js";
import { DataParallel, type DataParallelOptions } from "./data-parallel.js";
import { MAX_REPLICAS } from "./protocol.js";
import { serveReplicaOn } from "./serve-replica.js";

/** What this entry needs of a worker_threads Worker. */
export interface NodeWorker {
  postMessage(message: unknown): void;
  on(event: "message", listener: (value: unknown) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "exit", listener: (code: number) => void): unknown;
  terminate(): Promise<number>;
  unref(): void;
}
interface NodePort {
  postMessage(message: unknown): void;
  on(event: "message", listener: (value: unknown) => void): unknown;
}
/** A file URL (`new URL("./replica.js", import.meta.url)`). */
interface FileUrl {
  readonly href: string;
}
interface WorkerThreads {
  Worker: new (script: string | FileUrl, options?: { workerData?: unknown; name?: string }) => NodeWorker;
  parentPort: NodePort | null;
}

// `process.exit()` in a worker thread ends that thread, after its `process` emits "exit".
const nodeProcess = (globalThis as unknown as { process: { on(event: "exit", listener: (code: number) => void): unknown } }).process;

// Loaded by a computed name: the library is typed without Node's modules.
const specifier: string = "node:worker_threads";
const workerThreads = (await import(specifier)) as WorkerThreads;

/** Wraps a worker_threads Worker (started on a script that calls serveReplica) as a ReplicaChannel. */
export function nodeReplicaChannel(worker: NodeWorker): ReplicaChannel {
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (listener) => void worker.on("message", listener),
    onError: (listener) => {
      worker.on("error", (error) => listener(error));
      worker.on("exit", (code) => listener(new Error(`its worker exited (code ${code})`)));
    },
    terminate: async () => {
      await worker.terminate();
    },
    unref: () => worker.unref(),
  };
}

export interface NodeDataParallelOptions extends DataParallelOptions {
  /** Replicas, this thread included: an integer from 1 to 64 (1 trains on this thread alone, through the same path). */
  replicas: number;
  /**
   * The replica script: a path or file URL of a JavaScript module that calls serveReplica with a builder
   * of the same model, or a function that starts one such Worker (and may pass it workerData).
   */
  worker: string | FileUrl | (() => NodeWorker);
  /** Handed to each Worker started from a script, as its workerData. */
  workerData?: unknown;
}

/**
 * Starts `replicas - 1` worker threads on the replica script and connects them with `model` on this
 * thread (see DataParallel). Resolves once every replica is ready; an idle set does not keep Node alive.
 *
 * @example
 * // train.js                                   // replica.js
 * const dp = await dataParallel(model, loss, {   serveReplica(() => ({ model: referenceCnn(), loss: new CrossEntropyLoss() }));
 *   replicas: 2, worker: new URL("./replica.js", import.meta.url) });
 * opt.zeroGrad(); const { loss } = dp.forwardBackward(images, labels); opt.step();
 */
export async function dataParallel(model: Module, loss: LossFunction | null, options: NodeDataParallelOptions): Promise<DataParallel> {
  const op = "dataParallel";
  if (typeof options !== "object" || options === null) throw new TypeError(`${op}: options { replicas, worker } are required`);
  const { replicas, worker, workerData, ...rest } = options;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new RangeError(`${op}: replicas must be an integer from 1 to ${MAX_REPLICAS} (this thread included), but got ${String(replicas)}`);
  }
  if (typeof worker !== "string" && typeof worker !== "function" && (typeof worker !== "object" || worker === null || typeof worker.href !== "string")) {
    throw new TypeError(`${op}: worker must be the replica script's path or URL, or a function that starts a Worker, but got ${worker === null ? "null" : typeof worker}`);
  }
  const start = (): NodeWorker => (typeof worker === "function" ? worker() : new workerThreads.Worker(worker, { workerData, name: "pico-replica" }));
  const channels: ReplicaChannel[] = [];
  try {
    for (let r = 1; r < replicas; r++) channels.push(nodeReplicaChannel(start()));
  } catch (error) {
    await Promise.allSettled(channels.map(async (c) => c.terminate()));
    throw error;
  }
  return DataParallel.create(model, loss, channels, rest);
}

/**
 * Serves as a replica in this worker thread (call it in the replica script): `build` makes the model
 * (the same architecture as the calling thread's; its initial values do not matter) and the loss.
 */
export function serveReplica(build: ReplicaBuilder): void {
  const port = workerThreads.parentPort;
  if (port === null) throw new Error("serveReplica: call it in a replica's worker thread script, not on the main thread");
  serveReplicaOn(
    {
      postMessage: (message) => port.postMessage(message),
      onMessage: (listener) => void port.on("message", listener),
      onExit: (listener) => void nodeProcess.on("exit", listener),
    },
    build,
  );
}

export { DataParallel };
export type { DataParallelOptions, DataParallelSplit, DataParallelStep } from "./data-parallel.js";
export type { LossFunction, Replica, ReplicaBuilder, ReplicaChannel } from "./channel.js";
export { ReplicaError } from "./replica-error.js";
