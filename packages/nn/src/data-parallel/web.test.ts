import { afterEach, describe, expect, it, vi } from "vitest";
import { referenceCnn } from "../models/reference-cnn.js";
import { type WebWorker, type WebWorkerEvent, dataParallel, webDataParallelUnavailable, webReplicaChannel } from "./web.js";

// The browser entry in Node: its refusals and its channel over a stand-in Worker. The page's tests
// (apps/mnist-web) train through it with real Web Workers in Chromium.

/** A Web Worker stand-in: records what is posted, and fires the events a test asks for. */
class FakeWorker implements WebWorker {
  readonly posted: unknown[] = [];
  terminated = false;
  private readonly listeners = new Map<string, ((event: WebWorkerEvent) => void)[]>();

  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  addEventListener(type: string, listener: (event: WebWorkerEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  terminate(): void {
    this.terminated = true;
  }
  fire(type: string, event: WebWorkerEvent): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

afterEach(() => vi.unstubAllGlobals());

describe("@pico/nn/data-parallel-web", () => {
  it("refuses where replicas cannot run, saying why and what to do: no Web Workers, not cross-origin isolated, the page's main thread", async () => {
    const model = referenceCnn();
    const options = { replicas: 2, worker: () => new FakeWorker() };
    expect(webDataParallelUnavailable()).toBe("this runtime has no Web Workers (in Node, import dataParallel from @pico/nn/data-parallel instead)");
    await expect(dataParallel(model, null, options)).rejects.toThrow(
      "dataParallel: 2 replicas cannot run here: this runtime has no Web Workers. In Node, import dataParallel from @pico/nn/data-parallel instead.",
    );

    vi.stubGlobal("Worker", FakeWorker);
    vi.stubGlobal("crossOriginIsolated", false);
    await expect(dataParallel(model, null, options)).rejects.toThrow(
      "dataParallel: 2 replicas cannot run here: the page is not cross-origin isolated, so SharedArrayBuffer is unavailable. " +
        "Serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.",
    );

    vi.stubGlobal("crossOriginIsolated", true);
    vi.stubGlobal("document", {});
    expect(webDataParallelUnavailable()).toBe("the page's main thread cannot block on Atomics.wait (create it in the dedicated Worker that runs the model)");
    await expect(dataParallel(model, null, options)).rejects.toThrow("the page's main thread cannot block on Atomics.wait");
  });

  it("checks its options before anything starts", async () => {
    const model = referenceCnn();
    const start = vi.fn(() => new FakeWorker());
    await expect(dataParallel(model, null, { replicas: 0, worker: start })).rejects.toThrow("dataParallel: replicas must be an integer from 1 to 64 (this thread included), but got 0");
    await expect(dataParallel(model, null, { replicas: 2.5, worker: start })).rejects.toThrow("but got 2.5");
    await expect(dataParallel(model, null, { replicas: 2, worker: null as unknown as string })).rejects.toThrow(
      "dataParallel: worker must be the replica script's URL, or a function that starts a Web Worker on it, but got null",
    );
    expect(start).not.toHaveBeenCalled();
  });

  it("wraps a Web Worker as a channel: messages both ways, its errors as Errors naming the script, terminate", () => {
    const worker = new FakeWorker();
    const channel = webReplicaChannel(worker);
    const received: unknown[] = [];
    const errors: string[] = [];
    channel.onMessage((message) => received.push(message));
    channel.onError((error) => errors.push(error.message));

    channel.postMessage({ kind: "setup" });
    expect(worker.posted).toEqual([{ kind: "setup" }]);
    worker.fire("message", { data: { kind: "ready", replica: 1 } });
    expect(received).toEqual([{ kind: "ready", replica: 1 }]);

    worker.fire("error", { message: "Uncaught Error: no model named x", filename: "http://127.0.0.1/replica.js", lineno: 12 });
    worker.fire("error", {});
    worker.fire("messageerror", {});
    expect(errors).toEqual([
      "Uncaught Error: no model named x (http://127.0.0.1/replica.js:12)",
      "its script failed to load (check the Worker's URL, that it is a module script, and the console)",
      "it received a message it could not deserialize",
    ]);

    void channel.terminate();
    expect(worker.terminated).toBe(true);
  });
});
