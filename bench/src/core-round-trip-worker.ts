import { coreRoundTripNs } from "./core-round-trip.js";
import { RESULT_PREFIX } from "./worker-cli.js";

// coreRoundTripNs in a process of its own, so that it runs at the bench's --nice like the network
// workers it is measured beside.
const roundTripNs = await coreRoundTripNs();
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ roundTripNs })}\n`);
process.exit(0);
