import { spawn } from "node:child_process";
import { MNIST, Subset } from "@pico/data";
import { loaderFor } from "../src/data.js";
import { evaluate } from "../src/evaluate.js";
import { loadModelFile } from "../src/model-file.js";
import type { Picture } from "./digit-pictures.js";
import { CLI, PLAIN_ENV } from "./run-cli.js";

/** What `eval` predicts for these MNIST test images: the model on the IDX tensors, batched and normalised as eval does. */
export function evalPredictions(checkpoint: string, indices: readonly number[]): Int32Array {
  const { model } = loadModelFile(checkpoint);
  return evaluate(model, loaderFor(new Subset(new MNIST({ train: false }), [...indices]), 100, false, 0)).predictions;
}

export interface PredictRun {
  code: number | null;
  /** The top digit printed for each path that was predicted. */
  digits: Map<string, number>;
  stderr: string;
}

/** Runs `node <cli> predict --checkpoint <checkpoint> <paths...>` and reads the top digit of each line. */
export function predictPictures(checkpoint: string, pictures: readonly Picture[], cli = CLI): Promise<PredictRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "predict", "--checkpoint", checkpoint, ...pictures.map((p) => p.path)], { stdio: ["ignore", "pipe", "pipe"], env: PLAIN_ENV });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const digits = new Map<string, number>();
      for (const line of stdout.split("\n")) {
        const match = /^(.*): (\d) \(\d+\.\d%\), \d \(\d+\.\d%\), \d \(\d+\.\d%\)$/.exec(line);
        if (match !== null) digits.set(match[1]!, Number(match[2]));
      }
      resolve({ code, digits, stderr });
    });
  });
}

/** How many pictures were predicted as `expected[i]` (default: the digit each shows). */
export function countMatches(run: PredictRun, pictures: readonly Picture[], expected?: ArrayLike<number>): number {
  return pictures.filter((p, i) => run.digits.get(p.path) === (expected === undefined ? p.digit : expected[i])).length;
}
