import { readFileSync } from "node:fs";
import { writeFileAtomic } from "./atomic-write.js";
import { CheckpointError } from "./errors.js";
import { type EncodeSafetensorsOptions, type SafetensorsContents, type TensorMap, decodeSafetensors, encodeSafetensors } from "./safetensors-bytes.js";

export { encodeSafetensors, decodeSafetensors, tensorEntries } from "./safetensors-bytes.js";
export type { EncodeSafetensorsOptions, SafetensorsContents, SafetensorsWriteDType, TensorMap } from "./safetensors-bytes.js";

/** Writes tensors (and optional string metadata) to a .safetensors file, atomically. */
export function saveSafetensors(path: string, tensors: TensorMap, metadata?: Readonly<Record<string, string>>, options?: EncodeSafetensorsOptions): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, options));
}

/** Reads a .safetensors file; anything malformed is refused with a CheckpointError naming the file. */
export function loadSafetensors(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CheckpointError(`loadSafetensors: cannot read ${path}: ${(error as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}
