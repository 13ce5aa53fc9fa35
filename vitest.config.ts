import { defineConfig } from "vitest/config";
import SlowFirstSequencer from "./scripts/slow-first-sequencer.ts";

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "apps/*/test/**/*.test.ts", "bench/src/**/*.test.ts"],
    execArgv: ["--expose-gc"],
    // Vitest's default on 2 cores is one worker: files then run one after another while the end-to-end
    // ones mostly wait on the CLI, the browser or tsc in child processes. Two keep both cores busy.
    maxWorkers: 2,
    sequence: { sequencer: SlowFirstSequencer },
    globalSetup: ["./packages/torch-oracle/src/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./scripts/count-reporter.ts"],
  },
});
