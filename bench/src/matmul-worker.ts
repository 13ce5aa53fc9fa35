import { runMatmulBench } from "./matmul.js";
import { RESULT_PREFIX } from "./worker-cli.js";
import { parseArgs } from "node:util";

// The matmul comparison in a process of its own, so that it runs at the bench's --nice like the
// network workers (and its tfjs and thread state stay out of the main process).
const { values } = parseArgs({ args: process.argv.slice(2), options: { threads: { type: "string", default: "1" } }, strict: true });
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`matmul-worker: --threads must be an integer >= 1, but got ${values.threads}`);
const results = await runMatmulBench({ threads });
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(results)}\n`);
process.exit(0);
