import type { Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

/** Collapses axes startDim..endDim into one (by default every axis but the batch axis). */
export function flatten(input: Tensor, startDim = 1, endDim = -1): Tensor {
  checkTensor("flatten", "input", input);
  return input.flatten(startDim, endDim);
}
