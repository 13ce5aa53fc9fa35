import { basename } from "node:path";
import { displayPath } from "./run-folder.js";

/**
 * How the user started `train`, so that a command printed for them (the resume hint) runs as it is:
 * `pnpm train --` under the workspace's script, `mnist-train train` as an installed bin, else
 * `node <path of cli.js> train`.
 */
export function trainInvocation(env: NodeJS.ProcessEnv = process.env, script = process.argv[1] ?? "mnist-train"): string[] {
  // `pnpm train` runs a package script that ends in `cli.js train`, with what follows `--` appended (also to this variable).
  const viaPnpm = env.npm_lifecycle_event === "train" && /cli\.js train\b/.test(env.npm_lifecycle_script ?? "");
  if (viaPnpm) return ["pnpm", "train", "--"];
  if (basename(script) === "mnist-train") return ["mnist-train", "train"];
  return ["node", displayPath(script), "train"];
}

/** Words joined into a line a POSIX shell splits back into the same words. */
export function commandLine(words: readonly string[]): string {
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`)).join(" ");
}
