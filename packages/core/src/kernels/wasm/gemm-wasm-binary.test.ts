import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the generated modules gemm-wasm-binary.ts, conv-wasm-binary.ts and conv-wasm-threads-binary.ts", () => {
  it("are what scripts/build-wasm.mjs builds from assembly/gemm.ts and assembly/conv.ts", () => {
    const script = fileURLToPath(new URL("../../../scripts/build-wasm.mjs", import.meta.url));
    expect(() => execFileSync(process.execPath, [script, "--check"], { stdio: "pipe" })).not.toThrow();
  });
});
