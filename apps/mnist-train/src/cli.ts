#!/usr/bin/env node
import { availableParallelism } from "node:os";
import { PicoError, describeKernels, kernelInfo } from "@pico/core";
import { enableThreads } from "@pico/core/threads";
import pc from "picocolors";
import { COMMANDS, MAX_DEFAULT_THREADS, MAX_THREADS, intFlag, parseCommandLine, stringFlag, type ParsedCommand } from "./args.js";
import { UsageError, userFacing } from "./errors.js";
import { evalCommand } from "./eval-command.js";
import { exportCommand } from "./export-command.js";
import { graphCommand } from "./graph-command.js";
import { predictCommand } from "./predict-command.js";
import { commandLine, trainInvocation } from "./invocation.js";
import { planNewRun, planResume } from "./run-plan.js";
import { train } from "./train.js";

const log = (line: string): void => console.log(line);

async function main(parsed: ParsedCommand): Promise<number> {
  const replicas = parsed.command === "train" ? intFlag(parsed.values, "replicas", 1, 1, MAX_THREADS) : 1;
  // Data-parallel replicas take the cores that kernel threads would otherwise use.
  const defaultThreads = replicas > 1 ? 1 : Math.min(availableParallelism(), MAX_DEFAULT_THREADS);
  const threads = parsed.command === "predict" || parsed.command === "export" || parsed.command === "graph" ? 1 : intFlag(parsed.values, "threads", defaultThreads, 1, MAX_THREADS);
  // Train and eval say which kernels run, on how many threads (and that fewer started than asked for).
  const startThreads = async (): Promise<void> => {
    if (threads > 1) await enableThreads(threads);
    log(describeKernels(kernelInfo(), threads));
  };
  switch (parsed.command) {
    case "train":
      return runTrain(parsed, startThreads, replicas);
    case "eval": {
      await startThreads();
      const checkpoint = requireFlag(parsed, "checkpoint");
      await evalCommand({
        checkpoint,
        data: stringFlag(parsed.values, "data"),
        batchSize: intFlag(parsed.values, "batch-size", 1000),
        testLimit: optionalInt(parsed, "test-limit"),
        out: stringFlag(parsed.values, "out"),
        log,
      });
      return 0;
    }
    case "predict": {
      const checkpoint = requireFlag(parsed, "checkpoint");
      if (parsed.positionals.length === 0) throw new UsageError("predict needs at least one IMAGE (a PNG or JPEG file)");
      const predictions = await predictCommand({ checkpoint, images: parsed.positionals, log, logError: (line) => console.error(pc.red(line)) });
      return predictions.some((p) => "error" in p) ? 1 : 0;
    }
    case "graph":
      await graphCommand({ checkpoint: requireFlag(parsed, "checkpoint"), out: requireFlag(parsed, "out"), backward: parsed.values["backward"] === "true", log });
      return 0;
    case "export":
      if (parsed.values["dynamic-batch"] === "true" && parsed.values["batch-size"] !== undefined) {
        throw new UsageError("--dynamic-batch and --batch-size contradict each other: a model exported with --dynamic-batch takes any batch size");
      }
      exportCommand({
        checkpoint: requireFlag(parsed, "checkpoint"),
        onnx: requireFlag(parsed, "onnx"),
        batchSize: parsed.values["dynamic-batch"] === "true" ? "dynamic" : intFlag(parsed.values, "batch-size", 1, 1),
        log,
      });
      return 0;
  }
}

/** Checks every flag (and the checkpoint, when resuming) before the threads start and the data loads. */
async function runTrain(parsed: ParsedCommand, startThreads: () => Promise<void>, replicas: number): Promise<number> {
  const planned = parsed.values.resume !== undefined ? planResume(parsed.values) : planNewRun(parsed.values);
  if ("finished" in planned) {
    log(planned.finished);
    return 0;
  }
  const model = planned.plan.config.model;
  // resnet's BatchNorm trains data-parallel with its statistics synchronized across the replicas.
  if (replicas > 1 && model === "mlp") {
    const why = "its Dropout would draw each shard's masks from another thread's random stream";
    throw new UsageError(`--replicas ${replicas} trains data-parallel, which --model ${model} refuses: ${why}, so the run would differ from one thread's; use --replicas 1 (and --threads N for the kernels)`);
  }
  await startThreads();
  const threads = parsed.values.threads;
  const result = await train({
    plan: planned.plan,
    log,
    replicas,
    resumeCommand: (checkpoint) =>
      commandLine([
        ...trainInvocation(),
        "--resume",
        checkpoint,
        ...(threads === undefined ? [] : ["--threads", threads]),
        ...(replicas > 1 ? ["--replicas", String(replicas)] : []),
      ]),
  });
  if (result === null) return 130;
  const last = result.history.at(-1);
  if (last !== undefined) log(`test accuracy: ${last.testAccuracy.toFixed(4)}`);
  return 0;
}

function requireFlag(parsed: ParsedCommand, name: string): string {
  const value = stringFlag(parsed.values, name);
  if (value === undefined) throw new UsageError(`${parsed.command} needs --${name} FILE`);
  return value;
}

function optionalInt(parsed: ParsedCommand, name: string): number | undefined {
  return parsed.values[name] === undefined ? undefined : intFlag(parsed.values, name, 1);
}

/** Every failure ends here: one line naming the command, and an exit code; only a bug shows a stack trace. */
function fail(command: string | undefined, error: unknown): number {
  const known = userFacing(error, (e) => e instanceof PicoError);
  if (known === undefined) {
    console.error(error);
    return 1;
  }
  console.error(pc.red(`mnist-train${command === undefined ? "" : ` ${command}`}: ${known.message}`));
  return known.code;
}

function run(argv: readonly string[]): Promise<number> {
  let command: string | undefined;
  try {
    const parsed = parseCommandLine(argv);
    if ("help" in parsed) {
      log(parsed.help);
      return Promise.resolve(0);
    }
    command = parsed.command;
    return main(parsed).catch((error: unknown) => fail(command, error));
  } catch (error) {
    return Promise.resolve(fail(argv[0] !== undefined && argv[0] in COMMANDS ? argv[0] : undefined, error));
  }
}

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
