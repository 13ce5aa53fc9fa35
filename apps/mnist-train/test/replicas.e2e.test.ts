import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "mnist-train-replicas-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const tiny = ["train", "--epochs", "1", "--limit", "256", "--test-limit", "200"];

interface Epoch {
  trainLoss: number;
  testLoss: number;
}
const firstEpoch = (dir: string): Epoch => (JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8")) as { epochs: Epoch[] }).epochs[0]!;

describe("mnist-train train --replicas (data-parallel)", () => {
  it("trains by batch shards on 2 replicas to float32-close results of one thread, the same bits on every run", async () => {
    const runs = await Promise.all(
      [["--threads", "1"], ["--replicas", "2"], ["--replicas", "2"]].map(async (flags, i) => {
        const dir = join(work, `run-${i}`);
        const result = await runCli([...tiny, ...flags, "--out", dir]);
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
        return { stdout: result.stdout, epoch: firstEpoch(dir), model: readFileSync(join(dir, "model.safetensors")) };
      }),
    );
    const [one, two, twoAgain] = runs as [(typeof runs)[number], (typeof runs)[number], (typeof runs)[number]];
    // --threads defaults to 1 beside replicas: the kernel report says so, and the next line names the replicas.
    expect(two.stdout.split("\n")[0]).toMatch(/ · 1 thread$/);
    expect(two.stdout).toContain("data-parallel: 2 replicas (this thread and 1 worker thread), each batch cut into 2 shards\n");
    expect(two.model.equals(twoAgain.model)).toBe(true);
    expect(Math.abs(one.epoch.trainLoss - two.epoch.trainLoss)).toBeLessThan(1e-4 * one.epoch.trainLoss);
    expect(Math.abs(one.epoch.testLoss - two.epoch.testLoss)).toBeLessThan(1e-3 * one.epoch.testLoss);
  });

  it("trains resnet (BatchNorm, its statistics synchronized across the replicas) to float32-close results of one thread", async () => {
    const small = ["train", "--model", "resnet", "--epochs", "1", "--limit", "128", "--test-limit", "100"];
    const runs = await Promise.all(
      [["--threads", "1"], ["--replicas", "2"]].map(async (flags, i) => {
        const dir = join(work, `resnet-${i}`);
        const result = await runCli([...small, ...flags, "--out", dir]);
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
        return firstEpoch(dir);
      }),
    );
    const [one, two] = runs as [Epoch, Epoch];
    expect(Number.isFinite(two.trainLoss)).toBe(true);
    expect(Math.abs(one.trainLoss - two.trainLoss)).toBeLessThan(1e-4 * one.trainLoss);
    // The test loss uses the running statistics, which the replicas moved as one thread does.
    expect(Math.abs(one.testLoss - two.testLoss)).toBeLessThan(1e-3 * one.testLoss);
  });

  it("refuses models whose layers would differ by shard before anything starts", async () => {
    const result = await runCli(["train", "--model", "mlp", "--replicas", "2", "--out", join(work, "mlp")]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim()).toBe(
      "mnist-train train: --replicas 2 trains data-parallel, which --model mlp refuses: its Dropout would draw each shard's masks from another thread's random stream, so the run would differ from one thread's; use --replicas 1 (and --threads N for the kernels)",
    );
  });
});
