import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useTfjsBackend } from "./tfjs-setup.js";

describe("useTfjsBackend", () => {
  afterEach(() => vi.restoreAllMocks());

  it("keeps TensorFlow.js quiet: no 'install tfjs-node' banner on the cpu backend's first tensor", async () => {
    const warn = vi.spyOn(console, "warn");
    const log = vi.spyOn(console, "log");
    await useTfjsBackend("cpu");
    const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]);
    expect(sum).toBe(6);
    expect(tf.getBackend()).toBe("cpu");
    expect(warn).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
  });
});
