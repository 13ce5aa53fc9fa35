// A data-parallel replica of the page's resnet (models.ts) for Node's worker_threads, in state-kept.test:
// plain JavaScript, so a Worker can start it; it loads @pico/nn's built dist.
import { CrossEntropyLoss, resnet8 } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";

serveReplica(() => ({ model: resnet8({ inChannels: 1, numClasses: 10 }), loss: new CrossEntropyLoss() }));
