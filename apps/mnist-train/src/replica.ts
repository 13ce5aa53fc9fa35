// A data-parallel replica of `train --replicas N` (a worker thread): builds the model the run trains
// (its weights come from the calling thread's shared memory) and the loss.
import { workerData } from "node:worker_threads";
import { CrossEntropyLoss } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";
import { MODELS, type ModelName } from "./args.js";
import { buildModel } from "./models.js";

const { model } = workerData as { model: ModelName };
if (!MODELS.includes(model)) throw new Error(`replica: unknown model ${String(model)}`);
serveReplica(() => ({ model: buildModel(model), loss: new CrossEntropyLoss() }));
