// A replica of data-parallel training (@pico/nn/data-parallel-web), started by the model's Worker: it
// builds the model the page runs (named in the first message, before the library's setup), then trains
// its shard of every batch on the parameters the model's Worker shares with it.
import { CrossEntropyLoss } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel-web";
import { type WebModelName, buildModel } from "./models.js";
import type { ToReplica } from "./protocol.js";

const named = new Promise<WebModelName>((resolve) => {
  self.addEventListener("message", (event: MessageEvent<ToReplica>) => {
    if (event.data?.type === "model") resolve(event.data.name);
  });
});

serveReplica(async () => ({ model: buildModel(await named), loss: new CrossEntropyLoss() }));
