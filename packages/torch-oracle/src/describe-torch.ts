import { describe, it } from "vitest";
import { inCi, missingInCiMessage, probeTorch, torchAvailable } from "./availability.js";

/**
 * `describe` for tests that need PyTorch: skipped when the oracle's Python has no torch (the
 * global setup prints the one line saying how to install it), failing instead when CI is set.
 */
export function describeTorch(name: string, fn: () => void): void {
  if (torchAvailable()) describe(name, fn);
  else if (inCi()) {
    describe(name, () => {
      it("needs PyTorch", () => {
        throw new Error(missingInCiMessage(probeTorch().detail));
      });
    });
  } else describe.skip(name, fn);
}
