import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync, lstatSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { InputError, isSystemError, systemErrorReason } from "./errors.js";

/** Where runs go when --out is not given: runs/<time>, with runs/latest pointing at the newest. */
export const RUNS_ROOT = "runs";
export const LATEST = "latest";
export const INTERRUPTED = "interrupted.ckpt.safetensors";

const RUN_FILE = /^(metrics\.json|model\.safetensors|curves\.png|samples\.png|interrupted\.ckpt\.safetensors|epoch-\d+\.ckpt\.safetensors)$/;

export function epochCheckpointName(epoch: number): string {
  return `epoch-${epoch}.ckpt.safetensors`;
}

/**
 * Creates `path` and its missing parents one level at a time. (Node 20's `mkdirSync(p, { recursive: true })`
 * never returns for a path under /proc, and reports other failures on the deepest folder only.)
 * Throws the operating system's error for the first level that cannot be made.
 */
export function makeFolder(path: string): void {
  const missing: string[] = [];
  let p = path;
  while (!existsSync(p)) {
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (missing.length === 0 && !statSync(path).isDirectory()) mkdirSync(path); // throws EEXIST for the file in the way
  for (const folder of missing) mkdirSync(folder);
}

/** Fails now, with the OS's reason, if files cannot be created in `folder` (rather than after an epoch of training). */
export function checkWritable(folder: string): void {
  const probe = join(folder, `.mnist-train-write-test-${process.pid}`);
  try {
    writeFileSync(probe, "");
  } catch (error) {
    if (!isSystemError(error)) throw error;
    const reason = error.code === "ENOENT" ? "the file system there does not allow new files" : systemErrorReason(error, "cannot write");
    throw new InputError(`cannot write files in ${folder}: ${reason}`);
  }
  unlinkSync(probe);
}

/** The files of a run (metrics, weights, checkpoints, plots) in `folder`, sorted. */
export function runFilesIn(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => RUN_FILE.test(name))
    .sort();
}

/** A new, empty folder runs/<UTC time> (runs/<time>-2 ... when two runs start in the same second), created atomically. */
export function newRunFolder(root = RUNS_ROOT, now = new Date()): string {
  makeFolder(root);
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, "-");
  for (let n = 1; ; n++) {
    const folder = join(root, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      mkdirSync(folder);
      return folder;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

/**
 * Points `<root>/latest` at `folder` (a relative symlink), replacing the old link in one rename so that
 * readers never see it missing. Returns false when `latest` is a real folder (left alone).
 */
export function pointLatest(folder: string, root = RUNS_ROOT): boolean {
  const link = join(root, LATEST);
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) return false;
  const tmp = join(root, `.${LATEST}-${process.pid}-${randomBytes(4).toString("hex")}`);
  symlinkSync(relative(realpathSync(root), realpathSync(folder)), tmp);
  try {
    renameSync(tmp, link);
  } catch (error) {
    unlinkSync(tmp);
    throw error;
  }
  return true;
}

/** Whether `folder` sits directly in the default runs root (so runs/latest should follow it). */
export function isInRunsRoot(folder: string, root = RUNS_ROOT): boolean {
  return existsSync(root) && realpathSync(dirname(realpathSync(folder))) === realpathSync(root);
}

/** A path as the user should type it from here: relative when inside the current folder, else absolute. */
export function displayPath(path: string): string {
  const abs = resolve(path);
  const rel = relative(process.cwd(), abs);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? abs : rel;
}

/** The folder a checkpoint lies in, through symlinks (runs/latest/x -> runs/<time>/x). */
export function folderOf(file: string): string {
  return displayPath(realpathSync(dirname(file)));
}

/** Refuses a --resume path that is missing or a folder, naming it and what to give instead. */
export function checkCheckpointFile(path: string, flag: string): void {
  if (!existsSync(path)) throw new InputError(`${flag} ${path}: no such file`);
  if (statSync(path).isDirectory()) {
    const inside = runFilesIn(path).filter((name) => name.endsWith(".ckpt.safetensors"));
    const hint = inside.length > 0 ? ` (it holds ${inside.join(", ")})` : "";
    throw new InputError(`${flag} ${path}: this is a folder, not a checkpoint file${hint}`);
  }
  if (basename(path) === "") throw new InputError(`${flag} ${path}: not a file`);
}
