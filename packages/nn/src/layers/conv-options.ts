import { ArgumentError } from "@pico/core";
import { checkPositiveInteger } from "./check.js";

/**
 * Checks a convolution layer's channel counts and groups as torch.nn.Conv2d and ConvTranspose2d do:
 * each an integer >= 1, and both channel counts divisible by groups (each group convolves its own
 * slice of the channels). Returns the groups, 1 when not given.
 */
export function checkConvChannels(layer: string, inChannels: number, outChannels: number, groups: number | undefined): number {
  const g = groups ?? 1;
  checkPositiveInteger(layer, "inChannels", inChannels);
  checkPositiveInteger(layer, "outChannels", outChannels);
  checkPositiveInteger(layer, "groups", g);
  if (inChannels % g !== 0) throw new ArgumentError(`${layer}: inChannels (${inChannels}) must be divisible by groups (${g})`);
  if (outChannels % g !== 0) throw new ArgumentError(`${layer}: outChannels (${outChannels}) must be divisible by groups (${g})`);
  return g;
}
