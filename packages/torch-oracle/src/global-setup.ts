import { inCi, missingInCiMessage, probeTorch, skipMessage } from "./availability.js";
import { startZygote } from "./zygote.js";

/**
 * Vitest globalSetup: checks torch once for the whole run and passes the answer to the test
 * workers in PICO_TORCH. Without torch it prints one line (or, in CI, fails the run). With torch it
 * starts the zygote the workers' oracles fork from (PICO_TORCH_SOCKET) and stops it at the end.
 */
export default async function setup(): Promise<(() => void) | undefined> {
  if (process.env.PICO_TORCH !== "1" && process.env.PICO_TORCH !== "0") {
    const { available, detail } = probeTorch();
    process.env.PICO_TORCH = available ? "1" : "0";
    if (!available) {
      if (inCi()) throw new Error(missingInCiMessage(detail));
      process.stdout.write(`${skipMessage(detail)}\n`);
    }
  }
  if (process.env.PICO_TORCH !== "1" || process.env.PICO_TORCH_SOCKET) return undefined;
  const zygote = await startZygote();
  if (zygote === null) return undefined;
  process.env.PICO_TORCH_SOCKET = zygote.socket;
  return () => {
    zygote.stop();
    delete process.env.PICO_TORCH_SOCKET;
  };
}
