import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "apps/*/test/**/*.test.ts", "bench/src/**/*.test.ts"],
    execArgv: ["--expose-gc"],
    globalSetup: ["./packages/torch-oracle/src/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./scripts/count-reporter.ts"],
  },
});
