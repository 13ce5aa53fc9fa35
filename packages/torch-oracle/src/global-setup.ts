import { inCi, missingInCiMessage, probeTorch, skipMessage } from "./availability.js";

/**
 * Vitest globalSetup: checks torch once for the whole run and passes the answer to the test
 * workers in PICO_TORCH. Without torch it prints one line (or, in CI, fails the run).
 */
export default function setup(): void {
  if (process.env.PICO_TORCH === "1" || process.env.PICO_TORCH === "0") return;
  const { available, detail } = probeTorch();
  process.env.PICO_TORCH = available ? "1" : "0";
  if (available) return;
  if (inCi()) throw new Error(missingInCiMessage(detail));
  process.stdout.write(`${skipMessage(detail)}\n`);
}
