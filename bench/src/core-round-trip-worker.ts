import { RoundTripTimeout, coreRoundTripNs } from "./core-round-trip.js";
import { RESULT_PREFIX } from "./worker-cli.js";

// coreRoundTripNs in a process of its own, so that it runs at the bench's --nice like the network
// workers it is measured beside. Where the two threads cannot run at once (other processes hold the
// cores) it gives up after 2 s and reports null: a missing diagnostic must not stop the bench (any
// other failure is a bug, and fails the run).
let roundTripNs: number | null = null;
try {
  roundTripNs = await coreRoundTripNs({ timeoutMs: 2000 });
} catch (error) {
  if (!(error instanceof RoundTripTimeout)) throw error;
}
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ roundTripNs })}\n`);
process.exit(0);
