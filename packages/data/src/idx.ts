import { readFileSync } from "node:fs";
import { IdxFormatError } from "./errors.js";
import { type IdxArray, readIdxBuffer } from "./idx-bytes.js";

export { readIdxBuffer, encodeIdx } from "./idx-bytes.js";
export type { IdxArray, IdxData, IdxDType } from "./idx-bytes.js";

/**
 * Reads an IDX file (the format of the MNIST distribution), plain or gzip-compressed; compression is
 * recognised by content (the gzip magic 1f 8b), not by the file name. Anything that does not match
 * its own header is refused with an IdxFormatError naming the file; partial data is never returned.
 */
export function readIdx(path: string): IdxArray {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new IdxFormatError(`readIdx: cannot read ${path}: ${(error as Error).message}`);
  }
  return readIdxBuffer(raw, path);
}
