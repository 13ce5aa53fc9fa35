// Browser entry (`@pico/nn/data-parallel-web`): data-parallel training with Web Workers, the twin of
// `@pico/nn/data-parallel` (worker_threads). The replicas share the model's parameters and the shards
// through SharedArrayBuffers and block in Atomics.wait between steps, so it needs a cross-origin-isolated
// page (served with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
// require-corp`) and a calling thread that may block: the dedicated Worker that runs the model, never the
// page's main thread.
import type { Module } from "../module.js";
import type { LossFunction, ReplicaBuilder, ReplicaChannel } from "./channel.js";
import { DataParallel, type DataParallelOptions } from "./data-parallel.js";
import { MAX_REPLICAS } from "./protocol.js";
import { serveReplicaOn } from "./serve-replica.js";

/** What a Web Worker's message and error events carry that this entry reads. */
export interface WebWorkerEvent {
  data?: unknown;
  /** An ErrorEvent's message ("Uncaught Error: ..."); absent when the script failed to load. */
  message?: string;
  filename?: string;
  lineno?: number;
}

/** What this entry needs of a Web Worker (the DOM's `Worker`). */
export interface WebWorker {
  postMessage(message: unknown): void;
  addEventListener(type: "message" | "error" | "messageerror", listener: (event: WebWorkerEvent) => void): void;
  terminate(): void;
}

/** A script URL (`new URL("./replica.js", import.meta.url)`). */
interface ScriptUrl {
  readonly href: string;
}

interface WebScope {
  Worker?: new (script: string | ScriptUrl, options?: { type?: "module" | "classic"; name?: string }) => WebWorker;
  crossOriginIsolated?: boolean;
  document?: unknown;
  postMessage?: (message: unknown) => void;
  addEventListener?: (type: "message", listener: (event: WebWorkerEvent) => void) => void;
}

// The library is typed without the DOM's globals.
const scope = globalThis as unknown as WebScope;

/** What stands in the way of Web Worker replicas here, and what removes it. */
function blocker(): { reason: string; remedy: string } | null {
  if (typeof scope.Worker !== "function") {
    return { reason: "this runtime has no Web Workers", remedy: "in Node, import dataParallel from @pico/nn/data-parallel instead" };
  }
  if (typeof SharedArrayBuffer === "undefined" || scope.crossOriginIsolated !== true) {
    return {
      reason: "the page is not cross-origin isolated, so SharedArrayBuffer is unavailable",
      remedy: "serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp",
    };
  }
  if (typeof (SharedArrayBuffer.prototype as { grow?: unknown }).grow !== "function") {
    return { reason: "this browser's SharedArrayBuffer cannot grow", remedy: "Chrome >= 111, Firefox >= 128 and Safari >= 16.4 can" };
  }
  if (scope.document !== undefined) {
    return { reason: "the page's main thread cannot block on Atomics.wait", remedy: "create it in the dedicated Worker that runs the model" };
  }
  return null;
}

/**
 * Why data-parallel training with Web Workers cannot run here, with what would make it run, or null when
 * it can: no Web Workers, not cross-origin isolated (no SharedArrayBuffer), a SharedArrayBuffer that
 * cannot grow, or the page's main thread (Atomics.wait throws there).
 */
export function webDataParallelUnavailable(): string | null {
  const b = blocker();
  return b === null ? null : `${b.reason} (${b.remedy})`;
}

/** Wraps a Web Worker (started on a module script that calls serveReplica) as a ReplicaChannel. */
export function webReplicaChannel(worker: WebWorker): ReplicaChannel {
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.addEventListener("message", (event) => listener(event.data)),
    onError: (listener) => {
      worker.addEventListener("error", (event) => {
        const where = event.filename ? ` (${event.filename}${event.lineno ? `:${event.lineno}` : ""})` : "";
        listener(new Error(event.message ? `${event.message}${where}` : "its script failed to load (check the Worker's URL, that it is a module script, and the console)"));
      });
      worker.addEventListener("messageerror", () => listener(new Error("it received a message it could not deserialize")));
    },
    terminate: () => worker.terminate(),
  };
}

export interface WebDataParallelOptions extends DataParallelOptions {
  /** Replicas, this thread included: an integer from 1 to 64 (1 trains on this thread alone, through the same path). */
  replicas: number;
  /**
   * The replica script: a function that starts one Web Worker on a module script calling serveReplica
   * (what bundlers need: `() => new Worker(new URL("./replica.ts", import.meta.url), { type: "module" })`),
   * or that script's URL, started as a module Worker.
   */
  worker: string | ScriptUrl | (() => WebWorker);
}

/**
 * Starts `replicas - 1` Web Workers on the replica script and connects them with `model` on this thread
 * (see DataParallel): each step's batch is cut into one shard per replica, the shards' gradients are
 * added in replica order into this thread's `.grad`s, and the optimizer steps here. Refused, with the
 * reason and the remedy, where it cannot run (see webDataParallelUnavailable).
 *
 * @example
 * // model-worker.ts (a dedicated Worker)        // replica.ts
 * const dp = await dataParallel(model, loss, {   serveReplica(() => ({ model: referenceCnn(), loss: new CrossEntropyLoss() }));
 *   replicas: 2,
 *   worker: () => new Worker(new URL("./replica.ts", import.meta.url), { type: "module" }) });
 * opt.zeroGrad(); const { loss } = dp.forwardBackward(images, labels); opt.step();
 */
export async function dataParallel(model: Module, loss: LossFunction | null, options: WebDataParallelOptions): Promise<DataParallel> {
  const op = "dataParallel";
  if (typeof options !== "object" || options === null) throw new TypeError(`${op}: options { replicas, worker } are required`);
  const { replicas, worker, ...rest } = options;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new RangeError(`${op}: replicas must be an integer from 1 to ${MAX_REPLICAS} (this thread included), but got ${String(replicas)}`);
  }
  if (typeof worker !== "string" && typeof worker !== "function" && (typeof worker !== "object" || worker === null || typeof worker.href !== "string")) {
    throw new TypeError(`${op}: worker must be the replica script's URL, or a function that starts a Web Worker on it, but got ${worker === null ? "null" : typeof worker}`);
  }
  const b = blocker();
  if (b !== null) throw new Error(`${op}: ${replicas} replicas cannot run here: ${b.reason}. ${b.remedy[0]!.toUpperCase()}${b.remedy.slice(1)}.`);
  const start = (): WebWorker => (typeof worker === "function" ? worker() : new scope.Worker!(worker, { type: "module", name: "pico-replica" }));
  const channels: ReplicaChannel[] = [];
  try {
    for (let r = 1; r < replicas; r++) channels.push(webReplicaChannel(start()));
  } catch (error) {
    for (const c of channels) await c.terminate();
    throw error;
  }
  return DataParallel.create(model, loss, channels, rest);
}

/**
 * Serves as a replica in this Web Worker (call it at the top of the replica's module script): `build`
 * makes the model (the same architecture as the calling thread's; its initial values do not matter) and
 * the loss, once the calling thread connects. The Worker then blocks between steps and answers no other
 * message.
 */
export function serveReplica(build: ReplicaBuilder): void {
  if (scope.document !== undefined || typeof scope.postMessage !== "function" || typeof scope.addEventListener !== "function") {
    throw new Error("serveReplica: call it in a replica's Web Worker script, not on the page's main thread or outside a Worker");
  }
  const post = scope.postMessage.bind(globalThis);
  const listen = scope.addEventListener.bind(globalThis);
  serveReplicaOn({ postMessage: (message) => post(message), onMessage: (listener) => listen("message", (event) => listener(event.data)) }, build);
}

export { DataParallel };
export type { DataParallelOptions, DataParallelSplit, DataParallelStep } from "./data-parallel.js";
export type { LossFunction, Replica, ReplicaBuilder, ReplicaChannel } from "./channel.js";
export { ReplicaError } from "./replica-error.js";
