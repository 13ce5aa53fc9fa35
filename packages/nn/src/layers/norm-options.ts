import { ArgumentError } from "@pico/core";

/** Throws unless `eps`, added to a normalisation layer's variance before the square root, is a finite number > 0. */
export function checkNormEps(layer: string, eps: unknown): asserts eps is number {
  if (typeof eps !== "number" || !Number.isFinite(eps) || !(eps > 0)) {
    throw new ArgumentError(`${layer}: eps must be a finite number > 0, but got ${String(eps)}`);
  }
}

/**
 * Throws unless `momentum`, the weight of each new batch in a normalisation layer's running statistics,
 * is in [0, 1]; `nullable` layers (BatchNorm, as torch) also take null for a cumulative average.
 */
export function checkNormMomentum(layer: string, momentum: number | null, nullable: boolean): void {
  if (momentum === null && nullable) return;
  if (momentum === null || !(momentum >= 0 && momentum <= 1)) {
    throw new ArgumentError(`${layer}: momentum must be in [0, 1]${nullable ? " or null" : ""}, but got ${String(momentum)}`);
  }
}
