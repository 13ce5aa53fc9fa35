import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualSeed } from "@pico/core";
import { MNIST, decodeSafetensors } from "@pico/data";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildModel } from "../src/models.js";
import { lastLine, runCli } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "mnist-train-e2e-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const quick = ["--limit", "1024", "--test-limit", "500", "--batch-size", "64"];

interface Metrics {
  fields: Record<string, string>;
  config: { model: string; epochs: number; lr: number };
  steps: { stepsPerEpoch: number; loss: number[]; accuracy: number[]; lr: number[] };
  epochs: { epoch: number; trainLoss: number; trainAccuracy: number; testLoss: number; testAccuracy: number; imagesPerSecond: number; seconds: number; lr: number }[];
}
const readMetrics = (dir: string): Metrics => JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8")) as Metrics;

describe("mnist-train, as a user runs it (node dist/cli.js)", () => {
  const runA = join(work, "a");
  let trainOutput = "";

  beforeAll(async () => {
    const result = await runCli(["train", "--epochs", "2", ...quick, "--out", runA]);
    trainOutput = result.stdout;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("train ends with the test accuracy and writes metrics, weights, checkpoints and plots", async () => {
    expect(lastLine(trainOutput)).toMatch(/^test accuracy: 0\.\d{4}$/);
    const metrics = readMetrics(runA);
    expect(metrics.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of metrics.epochs) {
      for (const key of ["trainLoss", "testLoss", "testAccuracy", "imagesPerSecond", "seconds"] as const) expect(Number.isFinite(e[key])).toBe(true);
    }
    expect(metrics.epochs[1]!.testLoss).toBeLessThan(metrics.epochs[0]!.testLoss * 1.5);
    expect(metrics.epochs[1]!.testAccuracy).toBeGreaterThan(0.75);
    expect(lastLine(trainOutput)).toBe(`test accuracy: ${metrics.epochs[1]!.testAccuracy.toFixed(4)}`);
    for (const file of ["model.safetensors", "epoch-1.ckpt.safetensors", "epoch-2.ckpt.safetensors"]) expect(existsSync(join(runA, file))).toBe(true);
  });

  it("metrics.json says what its fields mean and holds the loss and lr of every batch", () => {
    const metrics = readMetrics(runA);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(metrics.fields["epochs[].lr"]).toMatch(/learning rate .* last batch/);
    for (const key of Object.keys(metrics.epochs[0]!)) expect(metrics.fields).toHaveProperty(`epochs[].${key}`);
    expect(metrics.steps.stepsPerEpoch).toBe(16);
    expect(metrics.steps.loss).toHaveLength(2 * 16);
    expect(metrics.steps.lr).toHaveLength(2 * 16);
    expect(metrics.steps.accuracy).toHaveLength(2 * 16);
    expect(mean(metrics.steps.accuracy.slice(16))).toBeCloseTo(metrics.epochs[1]!.trainAccuracy, 4);
    // The first batch of an untrained network: about ln(10).
    expect(metrics.steps.loss[0]).toBeGreaterThan(2);
    expect(metrics.steps.loss[0]).toBeLessThan(2.6);
    expect(mean(metrics.steps.loss.slice(0, 16))).toBeCloseTo(metrics.epochs[0]!.trainLoss, 4);
    expect(metrics.steps.lr.at(-1)).toBe(metrics.epochs[1]!.lr);
    expect(Math.max(...metrics.steps.lr)).toBeCloseTo(metrics.config.lr, 3);
  });

  it("curves.png and samples.png are drawn: lines of each colour in each panel, captions under digits", async () => {
    const curves = sharp(join(runA, "curves.png"));
    const meta = await curves.metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 1260, 340]);
    const { data, info } = await curves.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const count = (x0: number, x1: number, near: [number, number, number]): number => {
      let n = 0;
      for (let y = 0; y < info.height; y++) {
        for (let x = x0; x < x1; x++) {
          const i = (y * info.width + x) * info.channels;
          if (Math.abs(data[i]! - near[0]) + Math.abs(data[i + 1]! - near[1]) + Math.abs(data[i + 2]! - near[2]) < 40) n++;
        }
      }
      return n;
    };
    const blue: [number, number, number] = [0x1f, 0x77, 0xb4];
    const red: [number, number, number] = [0xd6, 0x27, 0x28];
    const green: [number, number, number] = [0x2c, 0xa0, 0x2c];
    expect(count(0, 420, blue)).toBeGreaterThan(300);
    expect(count(0, 420, red)).toBeGreaterThan(30);
    expect(count(420, 840, blue)).toBeGreaterThan(100);
    expect(count(420, 840, red)).toBeGreaterThan(100);
    expect(count(840, 1260, green)).toBeGreaterThan(300);

    const samples = await sharp(join(runA, "samples.png")).metadata();
    expect([samples.width, samples.height]).toEqual([8 * (28 * 4 + 2) + 2, 24 + 8 * (28 * 4 + 45 + 2) + 2]);
    const stats = await sharp(join(runA, "samples.png")).stats();
    expect(stats.channels[0]!.max).toBe(255);
    expect(stats.channels[0]!.mean).toBeGreaterThan(10);
  });

  it("eval prints per-class accuracy and a confusion matrix, saves it as PNG, and agrees with train", async () => {
    const result = await runCli(["eval", "--checkpoint", join(runA, "model.safetensors"), "--test-limit", "500"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/class\s+accuracy/);
    expect(result.stdout).toMatch(/confusion matrix/);
    expect(lastLine(result.stdout)).toBe(lastLine(trainOutput));
    const png = await sharp(join(runA, "confusion.png")).metadata();
    expect(png.format).toBe("png");
  });

  it("predict reads PNG and JPEG of any size and polarity and prints the top 3", async () => {
    const test = new MNIST({ train: false });
    const pixels = Buffer.from(test.images.subarray(0, 784));
    const white = join(work, "digit-white-on-black.png");
    const black = join(work, "digit-black-on-white.jpg");
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).resize(90, 70).toColourspace("srgb").png().toFile(white);
    await sharp(Buffer.from(pixels.map((v) => 255 - v)), { raw: { width: 28, height: 28, channels: 1 } }).resize(56, 56).jpeg().toFile(black);
    const result = await runCli(["predict", "--checkpoint", join(runA, "epoch-2.ckpt.safetensors"), white, black]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/: \d \(\d+\.\d%\), \d \(\d+\.\d%\), \d \(\d+\.\d%\)$/);
  });

  it("--threads 1 and --threads 2 start what they ask for and train to float32-close results, each repeatable", async () => {
    const tiny = ["train", "--epochs", "1", "--limit", "256", "--test-limit", "200"];
    const runs = await Promise.all(
      [1, 2, 2].map(async (threads, i) => {
        const dir = join(work, `threads-${i}`);
        const result = await runCli([...tiny, "--threads", String(threads), "--out", dir]);
        expect(result.code).toBe(0);
        // @pico/core's kernel report, the line the browser page shows too: the threads asked for did start.
        expect(result.stdout.split("\n")[0]).toMatch(new RegExp(`^kernels: gemm wasm, conv2d wasm · WebAssembly SIMD \\(relaxed, FMA\\) · ${threads} threads?$`));
        return { metrics: readMetrics(dir).epochs[0]!, model: readFileSync(join(dir, "model.safetensors")) };
      }),
    );
    const [one, two, twoAgain] = runs as [(typeof runs)[number], (typeof runs)[number], (typeof runs)[number]];
    expect(two.model.equals(twoAgain.model)).toBe(true);
    expect(Math.abs(one.metrics.trainLoss - two.metrics.trainLoss)).toBeLessThan(1e-4 * one.metrics.trainLoss);
    expect(Math.abs(one.metrics.testLoss - two.metrics.testLoss)).toBeLessThan(1e-3 * one.metrics.testLoss);
  });

  // Unknown options, --threads out of range, an unreadable picture and each command's --help are checked
  // line for line in errors.e2e.test.ts and predict.e2e.test.ts.
  it("bad input gets a clear message and a non-zero exit", async () => {
    const corrupt = join(work, "corrupt");
    mkdirSync(corrupt);
    for (const name of ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) {
      writeFileSync(join(corrupt, name), Buffer.from([0, 0, 8, 3, 0, 0, 0, 9]));
    }
    const mlpRun = join(work, "mlp");
    // SGD at lr 1 with the gradients clipped to a total norm of 1e-9: its 2 steps leave the initial weights (seed 0) as they were.
    const clipped = ["--optimizer", "sgd", "--scheduler", "none", "--lr", "1", "--clip-grad-norm", "1e-9"];
    const [missing, bad, mlp, forwarded] = await Promise.all([
      runCli(["train", "--data", join(work, "no-such-folder"), "--out", join(work, "x")]),
      runCli(["train", "--data", corrupt, "--out", join(work, "y")]),
      runCli(["train", "--model", "mlp", "--epochs", "1", "--limit", "128", "--test-limit", "100", ...clipped, "--out", mlpRun]),
      runCli(["train", "--", "--help"]),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no-such-folder");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("train-images-idx3-ubyte");
    expect(forwarded.code).toBe(0);
    expect(forwarded.stdout).toContain("--epochs");

    expect(mlp.code).toBe(0);
    manualSeed(0);
    const initial = buildModel("mlp").stateDict();
    const trained = decodeSafetensors(readFileSync(join(mlpRun, "model.safetensors"))).tensors;
    for (const [key, weight] of Object.entries(initial)) {
      const after = trained[key]!.toTypedArray();
      let moved = 0;
      weight.toTypedArray().forEach((v, i) => (moved = Math.max(moved, Math.abs(after[i]! - v))));
      expect(moved, key).toBeLessThan(1e-6);
    }
    const otherModel = await runCli(["train", "--model", "lenet", "--resume", join(mlpRun, "epoch-1.ckpt.safetensors"), "--out", join(work, "z")]);
    expect(otherModel.code).toBe(2);
    expect(otherModel.stderr).toMatch(/--model lenet contradicts .*, which trains with model mlp/);
  });
});
