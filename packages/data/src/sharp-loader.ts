import type sharpModule from "sharp";
import { ImageError } from "./errors.js";

let loading: Promise<typeof sharpModule> | undefined;

/**
 * sharp (and its native libvips) is loaded on the first image operation, not when @pico/data is
 * imported: reading IDX files, batching and checkpoints never need it.
 */
export function loadSharp(): Promise<typeof sharpModule> {
  loading ??= import("sharp").then(
    (m) => m.default,
    (error: unknown) => {
      loading = undefined;
      throw new ImageError(`image I/O needs the sharp package, which failed to load: ${(error as Error).message}`);
    },
  );
  return loading;
}
