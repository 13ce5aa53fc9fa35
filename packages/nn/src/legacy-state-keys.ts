import type { Tensor } from "@pico/core";

/** Buffer names of Pico state dicts written before the keys became PyTorch's, by last key segment. */
const RENAMED: Readonly<Record<string, string>> = {
  runningMean: "running_mean",
  runningVar: "running_var",
  numBatchesTracked: "num_batches_tracked",
};

/**
 * `dict` with the camelCase BatchNorm keys of older Pico files (`1.runningMean`) renamed to
 * PyTorch's (`1.running_mean`) wherever the model expects the new key and `dict` lacks it;
 * `dict` itself when there is nothing to rename.
 */
export function withCurrentKeys(dict: Readonly<Record<string, Tensor>>, expected: ReadonlyMap<string, unknown>): Readonly<Record<string, Tensor>> {
  let out: Record<string, Tensor> | null = null;
  for (const key of Object.keys(dict)) {
    if (expected.has(key)) continue;
    const dot = key.lastIndexOf(".");
    const renamed = RENAMED[key.slice(dot + 1)];
    if (renamed === undefined) continue;
    const current = `${key.slice(0, dot + 1)}${renamed}`;
    if (!expected.has(current) || Object.hasOwn(dict, current)) continue;
    out ??= { ...dict };
    out[current] = dict[key]!;
    delete out[key];
  }
  return out ?? dict;
}
