import { writeFileAtomic } from "./atomic-write.js";
import { type Checkpoint, type CheckpointState, checkpointFromContents, encodeCheckpoint } from "./checkpoint-bytes.js";
import { loadSafetensors } from "./safetensors.js";

export { encodeCheckpoint, decodeCheckpoint, checkStateDictCompatible } from "./checkpoint-bytes.js";
export type { Checkpoint, CheckpointState } from "./checkpoint-bytes.js";

/** Saves a checkpoint (see encodeCheckpoint for the layout) as one safetensors file, written atomically. */
export function saveCheckpoint(path: string, state: CheckpointState): void {
  writeFileAtomic(path, encodeCheckpoint(state, "saveCheckpoint"));
}

/**
 * Loads a checkpoint written by saveCheckpoint, rebuilding Tensors where they were. A plain
 * safetensors file without Pico.ts metadata loads as model weights only.
 */
export function loadCheckpoint(path: string): Checkpoint {
  return checkpointFromContents(loadSafetensors(path), path, "loadCheckpoint");
}
