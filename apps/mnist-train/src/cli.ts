#!/usr/bin/env node
import { availableParallelism } from "node:os";
import { PicoError } from "@pico/core";
import { enableThreads } from "@pico/core/threads";
import pc from "picocolors";
import { MAX_DEFAULT_THREADS, MODELS, OPTIMIZERS, SCHEDULERS, choiceFlag, intFlag, numberFlag, parseCommandLine, stringFlag, type ParsedCommand } from "./args.js";
import { InputError, UsageError } from "./errors.js";
import { evalCommand } from "./eval-command.js";
import { defaultLr } from "./optimization.js";
import { predictCommand } from "./predict-command.js";
import { train } from "./train.js";

const log = (line: string): void => console.log(line);
/** The most threads @pico/core/threads starts. */
const MAX_THREADS = 16;

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if ("help" in parsed) {
    log(parsed.help);
    return 0;
  }
  if (parsed.command !== "predict") {
    const threads = intFlag(parsed.values, "threads", Math.min(availableParallelism(), MAX_DEFAULT_THREADS));
    if (threads > MAX_THREADS) throw new UsageError(`--threads must be an integer from 1 to ${MAX_THREADS}, but got '${threads}'`);
    if (threads > 1) await enableThreads(threads);
  }
  switch (parsed.command) {
    case "train":
      return runTrain(parsed);
    case "eval": {
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
  }
}

async function runTrain(parsed: ParsedCommand): Promise<number> {
  const v = parsed.values;
  const optimizer = choiceFlag(v, "optimizer", OPTIMIZERS, "adam");
  const scheduler = choiceFlag(v, "scheduler", SCHEDULERS, "onecycle");
  const history = await train({
    config: {
      model: choiceFlag(v, "model", MODELS, "lenet"),
      epochs: intFlag(v, "epochs", 5),
      batchSize: intFlag(v, "batch-size", 64),
      optimizer,
      lr: numberFlag(v, "lr", defaultLr(optimizer, scheduler)),
      scheduler,
      seed: intFlag(v, "seed", 0, 0),
      limit: optionalInt(parsed, "limit"),
      testLimit: optionalInt(parsed, "test-limit"),
    },
    data: stringFlag(v, "data"),
    out: stringFlag(v, "out") ?? "runs/latest",
    resume: stringFlag(v, "resume"),
    log,
  });
  if (history === null) return 130;
  const last = history.at(-1);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(pc.red(`mnist-train: ${error.message}`));
      process.exitCode = 2;
    } else if (error instanceof InputError || error instanceof PicoError) {
      console.error(pc.red(`mnist-train: ${error.message}`));
      process.exitCode = 1;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
