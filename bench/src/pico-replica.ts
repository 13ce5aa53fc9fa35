// A replica of the reference network for Pico's data-parallel runs (pico-worker.ts --replicas N): built
// like the calling thread's (its weights come from the calling thread's shared memory).
import { CrossEntropyLoss } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";
import { referenceModel } from "./pico-network.js";

serveReplica(() => ({ model: referenceModel(), loss: new CrossEntropyLoss() }));
