import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";

/** A mistake in how the program was called: one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A problem with the user's files or data: one line, exit code 1. */
export class InputError extends Error {
  override name = "InputError";
}

/** An error from the operating system (fs, child process), as Node raises it. */
export interface SystemError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
}

export function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as Partial<SystemError>).code === "string" && /^E[A-Z0-9]+$/.test((error as SystemError).code);
}

/** The operating-system error an error was raised from (itself, or along its `cause` chain). */
export function systemErrorOf(error: unknown): SystemError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (isSystemError(e)) return e;
  }
  return undefined;
}

/** writeFileAtomic writes to `<path>.tmp-<pid>-<hex>` first; the user knows only `<path>`. */
function userPath(path: string): string {
  return path.replace(/\.tmp-\d+-[0-9a-f]+$/, "");
}

/** The nearest ancestor of `path` that exists but is not a folder, if any (what ENOTDIR is about). */
function fileInTheWay(path: string): string | undefined {
  for (let p = dirname(path); p !== dirname(p); p = dirname(p)) {
    try {
      if (existsSync(p) && !statSync(p).isDirectory()) return p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const VERBS: Record<string, string> = {
  mkdir: "cannot create the folder",
  open: "cannot open",
  read: "cannot read",
  write: "cannot write",
  rename: "cannot write",
  symlink: "cannot create the link",
  unlink: "cannot remove",
  rmdir: "cannot remove",
  scandir: "cannot list",
  stat: "cannot read",
  lstat: "cannot read",
  access: "cannot read",
  realpath: "cannot read",
};

/**
 * One line for a file-system error: what could not be done to which path, and why, in words
 * (the one place every command's ENOENT, EACCES, ENOTDIR, EISDIR, EEXIST... are explained).
 */
export function describeSystemError(error: SystemError, context?: string): string {
  const path = userPath(error.path ?? "");
  const verb = (context !== undefined && /^cannot write\b/.test(context) ? "cannot write" : VERBS[error.syscall ?? ""]) ?? "cannot use";
  const reason = systemErrorReason(error, verb);
  return path === "" ? `${verb}: ${reason}` : `${verb} ${path}: ${reason}`;
}

/** Why an operating-system call failed, in words (`verb` is what was tried, as describeSystemError says it). */
export function systemErrorReason(error: SystemError, verb = VERBS[error.syscall ?? ""] ?? "cannot use"): string {
  const path = userPath(error.path ?? "");
  let reason: string;
  switch (error.code) {
    case "ENOENT":
      reason =
        error.syscall === "mkdir" && existsSync(dirname(path))
          ? `${dirname(path)} does not allow new folders`
          : verb === "cannot write" || verb === "cannot create the link"
            ? existsSync(dirname(path))
              ? `${dirname(path)} does not allow new files`
              : `the folder ${dirname(path)} does not exist`
            : "no such file or folder";
      break;
    case "ENOTDIR": {
      const file = fileInTheWay(path);
      reason = file !== undefined ? `${file} is a file, not a folder` : "a part of the path is not a folder";
      break;
    }
    case "EISDIR":
      reason = "it is a folder, not a file";
      break;
    case "EEXIST":
      reason = existsSync(path) && !statSync(path).isDirectory() ? "it is a file, not a folder" : "it already exists";
      break;
    case "EACCES":
    case "EPERM":
      reason = "permission denied";
      break;
    case "EROFS":
      reason = "the file system is read-only";
      break;
    case "ENOSPC":
    case "EDQUOT":
      reason = "no space left on the device";
      break;
    case "ENAMETOOLONG":
      reason = "the name is too long";
      break;
    case "ELOOP":
      reason = "too many symbolic links (a loop?)";
      break;
    case "EMFILE":
    case "ENFILE":
      reason = "too many open files";
      break;
    case "ENOTEMPTY":
      reason = "the folder is not empty";
      break;
    default:
      reason = error.message.replace(/^E[A-Z0-9]+: /, "").replace(/, \w+ '.*'$/, "");
  }
  return reason;
}

/** Exit code and one-line message for anything a command throws, or undefined for a bug (print its stack). */
export function userFacing(error: unknown, isLibraryError: (error: unknown) => boolean): { code: number; message: string } | undefined {
  if (error instanceof UsageError) return { code: 2, message: error.message };
  if (error instanceof InputError) return { code: 1, message: error.message };
  const system = systemErrorOf(error);
  if (system !== undefined) return { code: 1, message: describeSystemError(system, error instanceof Error ? error.message : undefined) };
  if (isLibraryError(error)) return { code: 1, message: (error as Error).message };
  return undefined;
}
