import type { Tensor } from "@pico/core";
import type { AnyModule } from "../module.js";

/**
 * The calling thread's handle on one replica (a worker thread or Web Worker that the application
 * started on a script calling `serveReplica`). The runtime entries wrap their workers in one:
 * `nodeReplicaChannel` (`@pico/nn/data-parallel`), `webReplicaChannel` (`@pico/nn/data-parallel-web`).
 * Only the setup travels as messages; the steps go through shared memory.
 */
export interface ReplicaChannel {
  /** Sends a message (structured clone: SharedArrayBuffers are shared, not copied). */
  postMessage(message: unknown): void;
  /** Calls `listener` with each message the replica sends. */
  onMessage(listener: (message: unknown) => void): void;
  /** Calls `listener` when the replica fails outside a step (its script does not load, it throws at the top level, it exits). */
  onError(listener: (error: Error) => void): void;
  /** Stops the replica. */
  terminate(): void | Promise<void>;
  /** Lets the runtime exit while the replica idles (Node's `worker.unref()`); absent where there is no such thing. */
  unref?(): void;
}

/** The replica's side of a channel: how its script talks to the thread that started it (`parentPort`, `self`). */
export interface ReplicaEndpoint {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /**
   * Calls `listener` as the replica's thread exits (Node: `process.exit()` in the replica), so that the
   * calling thread, blocked in Atomics.wait, learns of it instead of waiting forever. Optional.
   */
  onExit?(listener: (code: number) => void): void;
}

/** A loss: a function of (output, target) or a module with `forward(output, target)`, reducing to a scalar. */
export type LossFunction = ((output: Tensor, target: Tensor) => Tensor) | { forward(output: Tensor, target: Tensor): Tensor };

/** The model a replica trains (built by the replica's own code, the same architecture as the calling thread's) and its loss. */
export interface Replica {
  model: AnyModule;
  loss: LossFunction;
}

/** Builds a replica's model and loss, once, when the calling thread connects. */
export type ReplicaBuilder = () => Replica | Promise<Replica>;

export function applyLoss(loss: LossFunction, output: Tensor, target: Tensor): Tensor {
  return typeof loss === "function" ? loss(output, target) : loss.forward(output, target);
}
