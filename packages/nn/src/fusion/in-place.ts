import { kernels, type Tensor } from "@pico/core";
import { ReLU } from "../layers/relu.js";
import type { Module } from "../module.js";
import { isA, type ModuleClass } from "./patterns.js";

// Every module Pico.ts may run in place, in one list. A container that knows nothing else can reach a
// module's input (Sequential under noGrad with recycling on: an intermediate that every module which
// made or read it keeps no reference to, never the Sequential's own input) may have the module's
// forward written into the input's array instead of a new one. A module matches a pattern as it
// matches a fusion pattern's class: an instance whose forward is the class's own (a subclass that
// keeps the forward computes the same and runs in place; one that overrides forward never does). The
// module itself is not called. Whether the result may be recycled further down the chain is still the
// module's class's own promise (keepsNoReferences).

export interface InPlacePattern {
  /** The pattern's name, for the docs. */
  readonly name: string;
  /** The class whose forward is computed in place. */
  readonly module: ModuleClass;
  /** What is written in place, for the docs. */
  readonly description: string;
  /** Writes `module`'s forward of `input` into `input`'s own array and returns true, or returns false to have the module run. */
  forwardInPlace(module: Module<[Tensor], Tensor>, input: Tensor): boolean;
}

const relu: InPlacePattern = {
  name: "ReLU",
  module: ReLU,
  description: "max(x, 0) written over a packed input (kernels.unary relu, NaN kept as ReLU's forward keeps it)",
  forwardInPlace(_module, input) {
    if (!kernels.isPacked(input.data)) return false;
    kernels.unary("relu", input.data, input.data);
    // An in-place write, as addRelu's inplace option counts it: voids a kernel's offer of the old values.
    input.bumpVersion();
    return true;
  },
};

/** Every in-place pattern, tried in this order. */
export const IN_PLACE_PATTERNS: readonly InPlacePattern[] = [relu];

/**
 * Computes `module`'s forward into `input`'s array by the first pattern that matches it and accepts the
 * input, and returns whether one did. The caller vouches that nothing else can reach the array and that
 * no graph is recorded (noGrad).
 */
export function forwardInPlace(module: unknown, input: Tensor, patterns: readonly InPlacePattern[] = IN_PLACE_PATTERNS): boolean {
  for (const pattern of patterns) {
    if (isA(module, pattern.module) && pattern.forwardInPlace(module as Module<[Tensor], Tensor>, input)) return true;
  }
  return false;
}
