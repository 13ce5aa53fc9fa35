import { randomBytes } from "node:crypto";
import { renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one, never a
 * partial write: the bytes go to a temporary sibling first, which is then renamed over `path`.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (error) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file may never have been created; the original error is what matters.
    }
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? `the folder ${dirname(path)} does not exist` : (error as Error).message;
    throw new Error(`cannot write ${path}: ${reason}`, { cause: error });
  }
}
