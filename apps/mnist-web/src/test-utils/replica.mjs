// A data-parallel replica of one of the page's models (models.ts: workerData.model, "lenet" or "resnet") for
// Node's worker_threads, in the page's tests: plain JavaScript, so a Worker can start it; it loads @pico/nn's
// built dist.
import { workerData } from "node:worker_threads";
import { CrossEntropyLoss, referenceCnn, resnet8 } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";

serveReplica(() => ({ model: workerData.model === "resnet" ? resnet8({ inChannels: 1, numClasses: 10 }) : referenceCnn(), loss: new CrossEntropyLoss() }));
