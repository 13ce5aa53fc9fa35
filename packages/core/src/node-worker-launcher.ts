// Node only, reached from the Node entry (threads.ts) alone: starts the kernels' pool workers as
// worker_threads. Browsers get Web Workers from threads-web.ts instead, so a browser bundle never meets
// a `node:` module.
import { type PoolWorker, type WorkerLauncher, setWorkerLauncher } from "./kernels/wasm/thread-pool.js";

interface NodeWorker {
  once(event: "message" | "error", listener: (value: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface WorkerThreads {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;
}

let workerThreads: Promise<WorkerThreads> | undefined;

/** Starts one worker_threads Worker on `source`; resolves once it posted "ready". */
export const launchNodeWorker: WorkerLauncher = async (source, workerData): Promise<PoolWorker> => {
  // Loaded by a computed name: the library is typed without Node's modules.
  const specifier: string = "node:worker_threads";
  workerThreads ??= import(specifier) as Promise<WorkerThreads>;
  const worker = new (await workerThreads).Worker(`const { parentPort, workerData } = require("node:worker_threads");\n${source}`, { eval: true, workerData });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  // An idle pool must not keep the process alive.
  worker.unref();
  return { terminate: () => worker.terminate() };
};

/** Has the kernels' pools start worker_threads from now on. */
export function useNodeWorkers(): void {
  setWorkerLauncher(launchNodeWorker);
}
