import { afterEach, describe, expect, it, vi } from "vitest";
import { type FastPathWarning, kernelInfo, onFastPathWarning } from "./index.js";
import { enableThreads, webThreadsUnavailable } from "./threads-web.js";

const HEADERS = "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp";

function collectWarnings(): FastPathWarning[] {
  const warnings: FastPathWarning[] = [];
  onFastPathWarning((w) => warnings.push(w));
  return warnings;
}

/** A Web-Worker runtime as far as threads-web looks: Worker, Blob and URL exist. */
function stubWebWorkers(isolated: boolean, mainThread: boolean): void {
  vi.stubGlobal("Worker", class {});
  vi.stubGlobal("Blob", class {});
  vi.stubGlobal("URL", { createObjectURL: () => "blob:x", revokeObjectURL: () => undefined });
  vi.stubGlobal("crossOriginIsolated", isolated);
  if (mainThread) vi.stubGlobal("document", {});
}

afterEach(() => {
  vi.unstubAllGlobals();
  onFastPathWarning(null);
});

// The Web Worker path itself runs in Chromium (apps/mnist-web's browser tests); here, the fallbacks.
describe("@pico/core/threads-web where threads cannot start", () => {
  it("outside a browser: names why, leaves the kernels on this thread, warns once", async () => {
    const warnings = collectWarnings();
    expect(webThreadsUnavailable()).toBe("this runtime has no Web Workers (in Node, import @pico/core/threads instead)");
    expect(await enableThreads(2)).toBe(false);
    expect(await enableThreads(3)).toBe(false);
    expect(kernelInfo().threads).toBe(1);
    expect(warnings).toEqual([
      {
        fastPath: "threads",
        reason: "this runtime has no Web Workers",
        message:
          "Pico: 2 threads were asked for, but the kernels run on the calling thread alone, one core doing the work of 2: " +
          "this runtime has no Web Workers. In Node, import @pico/core/threads instead.",
      },
    ]);
  });

  it("in a page that is not cross-origin isolated: the warning names the two headers, once; none for 1 thread", async () => {
    stubWebWorkers(false, false);
    const warnings = collectWarnings();
    expect(await enableThreads(1)).toBe(false);
    expect(warnings.filter((w) => w.fastPath === "threads")).toEqual([]);
    expect(await enableThreads(2)).toBe(false);
    expect(await enableThreads(2)).toBe(false);
    const threads = warnings.filter((w) => w.fastPath === "threads");
    expect(threads).toHaveLength(1);
    expect(threads[0]!.reason).toBe("the page is not cross-origin isolated, so SharedArrayBuffer is unavailable");
    expect(threads[0]!.message).toContain(`SharedArrayBuffer is unavailable. Serve it with ${HEADERS}.`);
    expect(webThreadsUnavailable()).toBe(`the page is not cross-origin isolated, so SharedArrayBuffer is unavailable (serve it with ${HEADERS})`);
    // A browser without relaxed SIMD is told so, once (Node 20 keeps it behind a flag this file does not set).
    const relaxed = warnings.filter((w) => w.fastPath === "relaxed-simd").map((w) => w.message);
    expect(relaxed).toEqual(
      kernelInfo().wasm.relaxedSimd
        ? []
        : [
            "Pico: this browser has no WebAssembly relaxed SIMD, so the kernels multiply and add in two instructions " +
              "instead of one fused multiply-add (matrix products and convolutions about a fifth slower). Chrome and Edge have it from version 114.",
          ],
    );
  });

  it("on a page's main thread: says to enable threads in the model's Worker", async () => {
    stubWebWorkers(true, true);
    const warnings = collectWarnings();
    expect(await enableThreads(2)).toBe(false);
    expect(warnings.filter((w) => w.fastPath === "threads").map((w) => w.message)).toEqual([
      "Pico: 2 threads were asked for, but the kernels run on the calling thread alone, one core doing the work of 2: " +
        "the page's main thread cannot block on Atomics.wait. Enable threads in the dedicated Worker that runs the model.",
    ]);
  });
});
