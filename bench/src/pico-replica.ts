// A replica for Pico's data-parallel runs (pico-worker.ts --replicas N): the network named in its
// workerData, built like the calling thread's (its weights come from the calling thread's shared memory).
import { workerData } from "node:worker_threads";
import { CifarNet, CrossEntropyLoss } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";
import { referenceModel } from "./pico-network.js";

const network = (workerData as { network?: string } | null)?.network ?? "reference";
serveReplica(() => ({ model: network === "cifar" ? new CifarNet() : referenceModel(), loss: new CrossEntropyLoss() }));
