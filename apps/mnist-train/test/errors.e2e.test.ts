import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "mnist-train-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const tiny = ["--epochs", "1", "--limit", "128", "--test-limit", "100"];

/** Exactly one line on stderr, no stack trace, no usage dump; returns it. */
function oneLine(result: CliResult, code: number): string {
  expect(result.code).toBe(code);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe("mistakes get one line naming what is wrong (node dist/cli.js)", () => {
  const run = join(work, "run");

  beforeAll(async () => {
    const trained = await runCli(["train", ...tiny, "--out", run]);
    expect(trained.code).toBe(0);
  });

  it("numbers are refused by name with the rule, also when negative or in exponent form", async () => {
    const cases: [string[], string][] = [
      [["--epochs", "-1"], "--epochs must be an integer >= 1, but got '-1'"],
      [["--batch-size", "-3"], "--batch-size must be an integer >= 1, but got '-3'"],
      [["--lr", "-1"], "--lr must be a number > 0, but got '-1'"],
      [["--epochs=1e3"], "--epochs must be an integer >= 1, but got '1e3'"],
      [["--epochs", "2.5"], "--epochs must be an integer >= 1, but got '2.5'"],
      [["--lr", "fast"], "--lr must be a number > 0, but got 'fast'"],
      [["--seed", "-2"], "--seed must be an integer >= 0, but got '-2'"],
      [["--limit", "0"], "--limit must be an integer >= 1, but got '0'"],
      [["--threads", "17"], "--threads must be an integer from 1 to 16, but got '17'"],
      [["--threads", "0"], "--threads must be an integer from 1 to 16, but got '0'"],
      [["--threads", "two"], "--threads must be an integer from 1 to 16, but got 'two'"],
      [["--scheduler", "linear"], "--scheduler must be one of none, step, cosine, onecycle, warmup, but got 'linear'"],
    ];
    const [unknownOption, evalLimit, ...results] = await Promise.all([
      runCli(["train", "--epoch", "2"]),
      runCli(["eval", "--checkpoint", join(run, "model.safetensors"), "--test-limit", "-5"]),
      ...cases.map(([flags]) => runCli(["train", ...flags, "--out", join(work, "never")])),
    ]);
    results.forEach((result, i) => expect(oneLine(result, 2)).toBe(`mnist-train train: ${cases[i]![1]}`));
    expect(existsSync(join(work, "never"))).toBe(false);
    expect(oneLine(unknownOption, 2)).toBe("mnist-train train: unknown option '--epoch' (Did you mean --epochs?) (see mnist-train train --help)");
    expect(oneLine(evalLimit, 2)).toBe("mnist-train eval: --test-limit must be an integer >= 1, but got '-5'");
  });

  it("file-system mistakes name the path and what is wrong with it", async () => {
    const file = join(work, "a-file");
    writeFileSync(file, "not a folder");
    const cases: [string[], string][] = [
      [["train", ...tiny, "--out", file], `mnist-train train: cannot create the folder ${file}: it is a file, not a folder`],
      [["train", ...tiny, "--out", join(file, "run")], `mnist-train train: cannot create the folder ${join(file, "run")}: ${file} is a file, not a folder`],
      [["train", ...tiny, "--out", "/dev/null/run"], "mnist-train train: cannot create the folder /dev/null/run: /dev/null is a file, not a folder"],
      // Root may write anywhere, except where the file system itself refuses.
      [["train", ...tiny, "--out", "/proc/run"], "mnist-train train: cannot create the folder /proc/run: /proc does not allow new folders"],
      [["train", ...tiny, "--out", "/proc"], "mnist-train train: cannot write files in /proc: the file system there does not allow new files"],
      [["train", "--resume", join(work, "missing.ckpt.safetensors")], `mnist-train train: --resume ${join(work, "missing.ckpt.safetensors")}: no such file`],
      [["train", "--resume", run], `mnist-train train: --resume ${run}: this is a folder, not a checkpoint file (it holds epoch-1.ckpt.safetensors)`],
      [["eval", "--checkpoint", join(work, "missing.safetensors")], `mnist-train eval: --checkpoint ${join(work, "missing.safetensors")}: no such file`],
      [["eval", "--checkpoint", join(run, "model.safetensors"), "--out", file], `mnist-train eval: cannot create the folder ${file}: it is a file, not a folder`],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((result, i) => expect(oneLine(result, 1)).toBe(cases[i]![1]));
  });

  it("a weights-only file is not a training checkpoint", async () => {
    const line = oneLine(await runCli(["train", "--resume", join(run, "model.safetensors")]), 1);
    expect(line).toMatch(/^mnist-train train: --resume .*model\.safetensors: this file holds weights only, not a training checkpoint/);
  });

  it("eval --out creates its folder", async () => {
    const out = join(work, "eval", "deeper");
    const result = await runCli(["eval", "--checkpoint", join(run, "model.safetensors"), "--test-limit", "100", "--out", out]);
    expect(result.code).toBe(0);
    const png = await sharp(join(out, "confusion.png")).metadata();
    expect(png.format).toBe("png");
  });

  it("each command's help lists its own options only", async () => {
    const option = (text: string): string[] => [...text.matchAll(/^\s+(?:-h, )?(--[a-z-]+)/gm)].map((m) => m[1]!).sort();
    const help = async (command: string): Promise<string[]> => {
      const result = await runCli([command, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: mnist-train ${command} \\[options\\]`));
      return option(result.stdout);
    };
    const [evalOptions, predictOptions, trainOptions, top] = await Promise.all([help("eval"), help("predict"), help("train"), runCli(["--help"])]);
    expect(evalOptions).toEqual(["--batch-size", "--checkpoint", "--data", "--help", "--out", "--test-limit", "--threads"]);
    expect(predictOptions).toEqual(["--checkpoint", "--help"]);
    expect(trainOptions).toEqual(
      ["--augment", "--batch-size", "--clip-grad-norm", "--data", "--epochs", "--help", "--limit", "--lr", "--model", "--optimizer", "--out", "--replicas", "--resume", "--scheduler", "--seed", "--test-limit", "--threads"].sort(),
    );
    expect(top.stdout).toMatch(/Commands:\n\s+train .*\n[\s\S]*eval [\s\S]*predict /);
  });

  it("a folder given as --data that lacks the files is named", async () => {
    const empty = join(work, "empty-data");
    mkdirSync(empty);
    const line = oneLine(await runCli(["train", ...tiny, "--data", empty, "--out", join(work, "no-data")]), 1);
    expect(line).toContain(empty);
    expect(existsSync(join(work, "no-data"))).toBe(false);
  });
});
