import { describe, expect, it } from "vitest";
import { kernelInfo } from "./index.js";
import { enableThreads, webThreadsUnavailable } from "./threads-web.js";

// The Web Worker path itself runs in Chromium (apps/mnist-web's browser tests); here, the fallback.
describe("@pico/core/threads-web outside a browser", () => {
  it("names why no thread starts and leaves the kernels on this thread", async () => {
    expect(webThreadsUnavailable()).toBe("this runtime has no Web Workers");
    expect(await enableThreads(2)).toBe(false);
    expect(kernelInfo().threads).toBe(1);
  });
});
