import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { saveCheckpoint } from "@pico/data";
import { afterAll, describe, expect, it } from "vitest";
import { parseCommandLine } from "./args.js";
import { buildModel } from "./models.js";
import { type RunConfig, type RunState, planNewRun, planResume } from "./run-plan.js";

const configOf = (argv: string[]): RunConfig => {
  const planned = planNewRun((parseCommandLine(["train", ...argv]) as { values: Record<string, string> }).values);
  if (!("plan" in planned)) throw new Error("no plan");
  return planned.plan.config;
};

const dir = mkdtempSync(join(tmpdir(), "clip-grad-norm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let checkpoints = 0;

/** A checkpoint after epoch 1 of 2 of a run with these settings, as train() writes it. */
function checkpointWith(config: Partial<RunConfig>): string {
  const path = join(dir, `run-${++checkpoints}`, "epoch-1.ckpt.safetensors");
  mkdirSync(dirname(path));
  const full = { ...configOf(["--model", "mlp", "--epochs", "2"]), ...config };
  const state: RunState = {
    runId: "0123456789abcdef",
    model: "mlp",
    config: full,
    position: { epoch: 1, batch: 0, lossSum: 0, correct: 0, seen: 0, seconds: 1 },
    history: [],
    steps: { stepsPerEpoch: 1, loss: [], accuracy: [], lr: [] },
  };
  saveCheckpoint(path, { model: buildModel("mlp").stateDict(), optimizer: {}, epoch: 1, extra: state as unknown as Record<string, unknown> });
  return path;
}

describe("--clip-grad-norm", () => {
  it("is a number > 0 recorded in the run's settings; absent, nothing is clipped", () => {
    expect(configOf(["--clip-grad-norm", "1.5"]).clipGradNorm).toBe(1.5);
    expect(configOf([]).clipGradNorm).toBeUndefined();
    for (const bad of ["0", "-1", "x", "Infinity"]) {
      expect(() => configOf(["--clip-grad-norm", bad])).toThrow(`--clip-grad-norm must be a number > 0, but got '${bad}'`);
    }
  });

  it("on --resume: the checkpoint's value is kept, another is refused by name with both values", () => {
    const clipped = checkpointWith({ clipGradNorm: 0.5 });
    expect(() => planResume({ resume: clipped, "clip-grad-norm": "2" })).toThrow(
      `--clip-grad-norm 2 contradicts ${clipped}, which trains with clip-grad-norm 0.5: a resumed run keeps the settings it started with`,
    );
    const same = planResume({ resume: clipped, "clip-grad-norm": "0.5" });
    expect("plan" in same && same.plan.config.clipGradNorm).toBe(0.5);
    const kept = planResume({ resume: clipped });
    expect("plan" in kept && kept.plan.config.clipGradNorm).toBe(0.5);

    const unclipped = checkpointWith({ clipGradNorm: undefined });
    expect(() => planResume({ resume: unclipped, "clip-grad-norm": "1" })).toThrow(`which trains with clip-grad-norm no clipping`);
  });
});
