import { defineConfig } from "vitest/config";

/** Runs only the measurement scripts of this folder (`*.measure.ts`), which `pnpm test` leaves out. */
export default defineConfig({
  root: new URL("../../..", import.meta.url).pathname,
  test: { include: ["apps/mnist-train/test/*.measure.ts"], testTimeout: 600_000 },
});
