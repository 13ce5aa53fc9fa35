import { afterEach, describe, expect, it, vi } from "vitest";
import type { FastPathWarning } from "./fast-path-warnings.js";

// Each case loads the library afresh (vi.resetModules) over an engine stubbed before the kernel module is
// first compiled: one without WebAssembly SIMD, one whose policy forbids compiling WebAssembly.
interface Engine {
  validate(bytes: Uint8Array): boolean;
  CompileError: new (message: string) => Error;
  Instance: unknown;
  Memory: unknown;
}
const real = (globalThis as unknown as { WebAssembly: Engine }).WebAssembly;

function stubEngine(validate: boolean, compileError: string): void {
  vi.stubGlobal("WebAssembly", {
    Instance: real.Instance,
    Memory: real.Memory,
    CompileError: real.CompileError,
    validate: (bytes: Uint8Array) => validate && real.validate(bytes),
    Module: class {
      constructor() {
        throw new real.CompileError(compileError);
      }
    },
  });
}

async function freshLibrary(): Promise<{ core: typeof import("../index.js"); warnings: FastPathWarning[] }> {
  vi.resetModules();
  const core = await import("../index.js");
  const warnings: FastPathWarning[] = [];
  core.onFastPathWarning((w) => warnings.push(w));
  return { core, warnings };
}

afterEach(() => vi.unstubAllGlobals());

describe("the warning when the WebAssembly SIMD kernels cannot run", () => {
  it("is given once, says what is lost and how to get it; the TypeScript kernels compute the same", async () => {
    stubEngine(false, "WebAssembly.Module(): Compiling function #0 failed: Wasm SIMD unsupported @+37");
    const { core, warnings } = await freshLibrary();
    const a = core.tensor([[1, 2, 3], [4, 5, 6]]);
    const b = core.tensor([[1, 0], [0, 1], [2, 2]]);
    expect(Array.from(a.matmul(b).toTypedArray())).toEqual([7, 8, 16, 17]);
    // A second family that falls back (ReLU), and the GEMM again: still one warning.
    expect(Array.from(core.tensor([-1, 2, -3, 4]).relu().toTypedArray())).toEqual([0, 2, 0, 4]);
    a.matmul(b);
    expect(core.kernelInfo().families["relu"]!.backend).toBe("js");
    expect(core.kernelInfo().families["gemm"]!.backend).toBe("js");
    expect(core.kernelInfo().wasm).toEqual({ simd: false, relaxedSimd: false });
    expect(warnings).toEqual([
      {
        fastPath: "wasm-simd",
        reason: "this engine has no WebAssembly SIMD",
        message:
          "Pico: the WebAssembly SIMD kernels cannot run here (this engine has no WebAssembly SIMD), so convolutions, matrix " +
          "products and the other kernels run in TypeScript, about 8x slower. WebAssembly SIMD is in Node >= 16.4, Chrome and " +
          "Edge >= 91, Firefox >= 89 and Safari >= 16.4; a page's Content-Security-Policy must allow 'wasm-unsafe-eval'. " +
          'useKernels("js") chooses the TypeScript kernels on purpose and silences this.',
      },
    ]);
  });

  it("names the compile error when the engine has SIMD but may not compile WebAssembly (a page's CSP)", async () => {
    stubEngine(true, "WebAssembly.Module(): Wasm code generation disallowed by embedder");
    const { core, warnings } = await freshLibrary();
    core.tensor([[1, 2]]).matmul(core.tensor([[3], [4]]));
    expect(warnings.map((w) => w.reason)).toEqual(["the kernel module did not compile: WebAssembly.Module(): Wasm code generation disallowed by embedder"]);
  });

  it("is not given when the TypeScript kernels were chosen, and goes to console.warn by default", async () => {
    stubEngine(false, "Wasm SIMD unsupported");
    const { core, warnings } = await freshLibrary();
    core.useKernels("js");
    expect(core.tensor([[1, 2]]).matmul(core.tensor([[3], [4]])).item()).toBe(11);
    core.kernelInfo();
    expect(warnings).toEqual([]);

    const printed = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const fresh = await freshLibrary();
      fresh.core.onFastPathWarning(null);
      fresh.core.tensor([[1, 2]]).matmul(fresh.core.tensor([[3], [4]]));
      fresh.core.tensor([[1, 2]]).matmul(fresh.core.tensor([[3], [4]]));
      expect(printed.mock.calls).toEqual([[expect.stringMatching(/^Pico: the WebAssembly SIMD kernels cannot run here \(this engine has no WebAssembly SIMD\)/)]]);
    } finally {
      printed.mockRestore();
    }
  });
});

describe("the warning when relaxed SIMD is missing", () => {
  // Last in this file: importing @pico/core/threads turns Node 20's flag on for the whole process.
  it("says the Node entry came too late when the kernels were compiled before it was imported", async () => {
    const { core, warnings } = await freshLibrary();
    expect(core.tensor([[1, 2]]).matmul(core.tensor([[3], [4]])).item()).toBe(11);
    const relaxedBefore = core.kernelInfo().wasm.relaxedSimd;
    await import("../threads.js");
    expect(core.kernelInfo().wasm.relaxedSimd).toBe(relaxedBefore);
    // Node 20 keeps relaxed SIMD behind a flag (the threads entry sets it); Node >= 22 has it on.
    expect(warnings).toEqual(
      relaxedBefore
        ? []
        : [
            {
              fastPath: "relaxed-simd",
              reason: "the WebAssembly kernels were compiled before @pico/core/threads turned on Node's relaxed-SIMD flag",
              message:
                "Pico: the WebAssembly kernels were compiled before @pico/core/threads turned on Node's relaxed-SIMD flag, so the kernels " +
                "multiply and add in two instructions instead of one fused multiply-add (matrix products and convolutions about a fifth slower). Import @pico/core/threads before the first tensor operation, or start node with " +
                "--experimental-wasm-relaxed-simd.",
            },
          ],
    );
  });
});
