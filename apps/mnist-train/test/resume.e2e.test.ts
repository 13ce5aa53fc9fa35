import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, lastLine, runCli, runCommand, shellWords, type CliResult } from "./run-cli.js";

// Every run here starts in its own folder, as a user in a fresh checkout would: runs/ is made there.
const home = mkdtempSync(join(tmpdir(), "mnist-train-resume-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const quick = ["--limit", "1024", "--test-limit", "500"];
const inHome = (args: string[], onStdout?: Parameters<typeof runCli>[1]): Promise<CliResult> =>
  runCli(args, typeof onStdout === "function" ? { onStdout, cwd: home } : { cwd: home });

interface Metrics {
  runId: string;
  config: { epochs: number; scheduler: string; lr: number };
  epochs: { epoch: number; trainLoss: number; testLoss: number; testAccuracy: number; lr: number }[];
  steps: { stepsPerEpoch: number; loss: number[]; lr: number[] };
}
const metricsOf = (dir: string): Metrics => JSON.parse(readFileSync(join(home, dir, "metrics.json"), "utf8")) as Metrics;
const results = (m: Metrics): unknown => m.epochs.map(({ trainLoss, testLoss, testAccuracy }) => ({ trainLoss, testLoss, testAccuracy }));

/** Every file of a folder with a hash of its bytes, to show that nothing in it changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(home, dir)).sort()) out[name] = createHash("sha256").update(readFileSync(join(home, dir, name))).digest("hex");
  return out;
}

const writingTo = (stdout: string): string => /^writing to (\S+)/m.exec(stdout)?.[1] ?? "";
const latest = (): string => readlinkSync(join(home, "runs", "latest"));
/** One line on stderr, naming the command: no stack trace, no usage dump. */
const oneLine = (stderr: string): string => {
  const lines = stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mnist-train train: /);
  return lines[0]!;
};

describe("resume continues the run it came from (node dist/cli.js, from a fresh folder)", () => {
  let runA = "";
  let runB = "";
  let interrupted: CliResult;
  let continued: CliResult;
  let aBefore: Record<string, string> = {};

  beforeAll(async () => {
    const a = await inHome(["train", "--epochs", "2", ...quick]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    runA = writingTo(a.stdout);
    aBefore = snapshot(runA);

    let sent = false;
    interrupted = await inHome(["train", "--epochs", "2", ...quick], (stdout, kill) => {
      if (!sent && stdout.includes("epoch 1/2:")) {
        sent = true;
        kill("SIGINT");
      }
    });
    runB = writingTo(interrupted.stdout);
    const hint = /^continue this run in (\S+) with: (.+)$/m.exec(interrupted.stdout);
    expect(hint?.[1]).toBe(runB);
    const [program, ...args] = shellWords(hint![2]!);
    expect(program).toBe("node");
    expect(resolve(home, args[0]!)).toBe(CLI);
    // Exactly the printed command, from the same folder.
    continued = await runCommand(process.execPath, args, { cwd: home });
  });

  it("each run gets its own folder runs/<time>, latest follows the newest, and both say where they write", () => {
    expect(runA).toMatch(/^runs\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(-\d+)?$/);
    expect(runB).toMatch(/^runs\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(-\d+)?$/);
    expect(runB).not.toBe(runA);
    expect(latest()).toBe(runB.slice("runs/".length));
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toMatch(/interrupted in epoch 2\/2, batch \d+\/16: saved /);
    expect(interrupted.stdout).toContain(`saved ${runB}/interrupted.ckpt.safetensors`);
  });

  it("the printed command finishes the same run in the same folder, with its epochs and schedule, as if never stopped", () => {
    expect(continued.stderr).toBe("");
    expect(continued.code).toBe(0);
    expect(writingTo(continued.stdout)).toBe(runB);
    expect(continued.stdout).toContain(`run saved in ${runB}:`);
    const a = metricsOf(runA);
    const b = metricsOf(runB);
    expect(b.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(b.config.epochs).toBe(2);
    expect(results(b)).toEqual(results(a));
    expect(b.steps.loss).toHaveLength(2 * 16);
    expect(b.steps.loss).toEqual(a.steps.loss);
    expect(b.steps.lr).toEqual(a.steps.lr);
    expect(readFileSync(join(home, runB, "model.safetensors")).equals(readFileSync(join(home, runA, "model.safetensors")))).toBe(true);
    expect(lastLine(continued.stdout)).toBe(`test accuracy: ${b.epochs[1]!.testAccuracy.toFixed(4)}`);
  });

  it("a successful resume removes its interrupted checkpoint, and the other run's folder is untouched", () => {
    expect(existsSync(join(home, runB, "interrupted.ckpt.safetensors"))).toBe(false);
    expect(readdirSync(join(home, runB)).sort()).toEqual([
      "curves.png",
      "epoch-1.ckpt.safetensors",
      "epoch-2.ckpt.safetensors",
      "metrics.json",
      "model.safetensors",
      "samples.png",
    ]);
    expect(snapshot(runA)).toEqual(aBefore);
    expect(latest()).toBe(runB.slice("runs/".length));
  });

  it("a flag that contradicts the checkpoint is refused by name, with both values", async () => {
    const cases: [string[], RegExp][] = [
      [["--lr", "0.5"], /--lr 0\.5 contradicts .*epoch-1\.ckpt\.safetensors, which trains with lr 0\.005/],
      [["--model", "mlp"], /--model mlp contradicts .*, which trains with model lenet/],
      [["--batch-size", "32"], /--batch-size 32 contradicts .*, which trains with batch-size 64/],
      [["--scheduler", "cosine"], /--scheduler cosine contradicts .*, which trains with scheduler onecycle/],
      [["--limit", "2048"], /--limit 2048 contradicts .*, which trains with limit 1024/],
      [["--epochs", "3"], /--epochs 3 contradicts .*, which trains 2 epochs: its onecycle schedule is planned over the whole run/],
    ];
    const refusals = await Promise.all(cases.map(([flags]) => inHome(["train", "--resume", join(runB, "epoch-1.ckpt.safetensors"), "--out", "branch", ...flags])));
    refusals.forEach((refused, i) => {
      expect(refused.code).toBe(2);
      expect(oneLine(refused.stderr)).toMatch(cases[i]![1]);
    });
    // The same values as the checkpoint's are not a contradiction.
    const same = await inHome(["train", "--resume", join(runB, "epoch-2.ckpt.safetensors"), "--lr", "0.005", "--batch-size", "64", "--epochs", "2"]);
    expect(same.code).toBe(0);
  });

  it("a finished run says so; more epochs of a finished one-cycle run are refused with the reason, never a crash", async () => {
    const [finished, more, fewer] = await Promise.all([
      inHome(["train", "--resume", join(runB, "epoch-2.ckpt.safetensors")]),
      inHome(["train", "--resume", join(runB, "epoch-2.ckpt.safetensors"), "--epochs", "4"]),
      inHome(["train", "--resume", join(runB, "epoch-2.ckpt.safetensors"), "--epochs", "1"]),
    ]);
    expect(finished.code).toBe(0);
    expect(finished.stderr).toBe("");
    expect(finished.stdout).toMatch(/this run is finished: it trained all 2 epochs \(test accuracy 0\.\d{4}\)/);

    expect(more.code).toBe(2);
    const line = oneLine(more.stderr);
    expect(line).toMatch(/onecycle schedule was planned over its 2 epochs and has ended/);
    expect(line).toMatch(/Start a new run with --epochs 4$/);
    expect(line).not.toMatch(/tried to step/);

    expect(fewer.code).toBe(2);
    expect(oneLine(fewer.stderr)).toMatch(/--epochs 1: .* has already trained 2 epochs/);
    expect(snapshot(runA)).toEqual(aBefore);
  });

  it("an older checkpoint does not overwrite what its run did next; with --out it branches into a new folder", async () => {
    const [inPlace, branch, intoARun] = await Promise.all([
      inHome(["train", "--resume", join(runA, "epoch-1.ckpt.safetensors")]),
      inHome(["train", "--resume", join(runA, "epoch-1.ckpt.safetensors"), "--out", "branch-a"]),
      inHome(["train", "--epochs", "1", ...quick, "--out", runA]),
    ]);
    expect(inPlace.code).toBe(1);
    expect(oneLine(inPlace.stderr)).toMatch(/went on to epoch 2 after this checkpoint .* would overwrite epoch 2: add --out NEW_FOLDER/);
    expect(branch.code).toBe(0);
    expect(results(metricsOf("branch-a"))).toEqual(results(metricsOf(runA)));
    expect(intoARun.code).toBe(1);
    expect(oneLine(intoARun.stderr)).toMatch(new RegExp(`--out ${runA} already holds a run .*continue that run with --resume ${runA}/epoch-2\\.ckpt\\.safetensors`));
    expect(snapshot(runA)).toEqual(aBefore);
  });

  it("a finished run with a step schedule continues for more epochs, its lr going on down, never back up", async () => {
    const first = await inHome(["train", "--epochs", "1", "--scheduler", "step", ...quick, "--out", "stepped"]);
    expect(first.code).toBe(0);
    const more = await inHome(["train", "--resume", "stepped/epoch-1.ckpt.safetensors", "--epochs", "3"]);
    expect(more.stderr).toBe("");
    expect(more.code).toBe(0);
    const m = metricsOf("stepped");
    expect(m.config.epochs).toBe(3);
    expect(m.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(m.steps.lr).toHaveLength(3 * 16);
    // StepLR(stepSize = one epoch, gamma 0.5), as PyTorch's would go on: 1e-3, 5e-4, 2.5e-4.
    expect(m.epochs.map((e) => e.lr)).toEqual([1e-3, 5e-4, 2.5e-4]);
    for (let i = 1; i < m.steps.lr.length; i++) expect(m.steps.lr[i]!).toBeLessThanOrEqual(m.steps.lr[i - 1]!);
  });
});
