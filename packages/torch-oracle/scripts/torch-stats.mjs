// Prints, per package, how many comparisons with torch a run made and the largest deviation seen:
//   PICO_TORCH_STATS=/tmp/torch-stats.jsonl pnpm test   (or vitest run on the *.torch.test.ts files)
//   pnpm --filter @pico/torch-oracle stats /tmp/torch-stats.jsonl
import { readFileSync } from "node:fs";
import { formatSummary, summarizeStats } from "../dist/stats-summary.js";

const file = process.argv[2] ?? process.env.PICO_TORCH_STATS;
if (file === undefined) {
  console.error("torch-stats: give the statistics file (the PICO_TORCH_STATS of a test run), e.g. torch-stats /tmp/torch-stats.jsonl");
  process.exit(2);
}
let text;
try {
  text = readFileSync(file, "utf8");
} catch (error) {
  console.error(`torch-stats: cannot read ${file}: ${error.message}`);
  process.exit(2);
}
console.log(formatSummary(summarizeStats(text.split("\n"))));
