// A data-parallel replica of one of the page's models (models.ts: workerData.model, "lenet" or "resnet"; "lenet-bomb" throws in its shard) for
// Node's worker_threads, in the page's tests: plain JavaScript, so a Worker can start it; it loads @pico/nn's
// built dist.
import { workerData } from "node:worker_threads";
import { CrossEntropyLoss, referenceCnn, resnet8 } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";

serveReplica(() => {
  if (workerData.model === "resnet") return { model: resnet8({ inChannels: 1, numClasses: 10 }), loss: new CrossEntropyLoss() };
  const model = referenceCnn();
  if (workerData.model === "lenet-bomb") {
    // lenet whose forward throws on a shard of 4 rows (the worker's shard of a batch of 7): a replica failing in its shard.
    const forward = model.forward.bind(model);
    model.forward = (x) => {
      if (x.shape[0] === 4) throw new RangeError("bomb: a shard of 4 rows");
      return forward(x);
    };
  }
  return { model, loss: new CrossEntropyLoss() };
});
