import { spawnSync } from "node:child_process";

/** The interpreter that has torch: Debian's, not the `python3` first on PATH. Overridable with PICO_TORCH_PYTHON. */
export function pythonPath(): string {
  return process.env.PICO_TORCH_PYTHON ?? "/usr/bin/python3";
}

export const INSTALL_HINT = "apt-get update && apt-get install -y python3-torch";

let cached: boolean | null = null;

/**
 * Whether the oracle's Python can import torch. The vitest global setup checks once per run and
 * passes the answer down in PICO_TORCH ("1" / "0"); without it, this asks Python (once per process).
 */
export function torchAvailable(): boolean {
  if (cached !== null) return cached;
  const env = process.env.PICO_TORCH;
  if (env === "1" || env === "0") cached = env === "1";
  else cached = probeTorch().available;
  return cached;
}

/** Asks the interpreter whether torch is installed, without importing it (fast). */
export function probeTorch(): { available: boolean; detail: string } {
  const r = spawnSync(pythonPath(), ["-c", "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 3)"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.error) return { available: false, detail: `${pythonPath()} could not be started (${r.error.message})` };
  if (r.status === 0) return { available: true, detail: `${pythonPath()} has torch` };
  if (r.status === 3) return { available: false, detail: `${pythonPath()} cannot import torch` };
  return { available: false, detail: `${pythonPath()} exited with ${r.status}: ${r.stderr.trim()}` };
}

/** The one line printed when the differential tests are skipped. */
export function skipMessage(detail: string): string {
  return `torch-oracle: ${detail}; the differential tests against PyTorch are skipped (install it: ${INSTALL_HINT})`;
}

/** The error when CI (process.env.CI set) has no torch: a missing oracle fails the suite there. */
export function missingInCiMessage(detail: string): string {
  return `torch-oracle: ${detail}, and CI requires the differential tests against PyTorch; install it: ${INSTALL_HINT}`;
}

export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}
