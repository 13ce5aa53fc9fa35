import { kernels } from "@pico/core";
import { enableThreads } from "@pico/core/threads";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { PicoNetwork } from "./pico-network.js";
import { parseWorkerArgs, runWorker } from "./worker-cli.js";

const args = parseWorkerArgs(process.argv.slice(2), ["threads"]);
const threads = Number(args.extra.threads ?? "1");
// Convolutions split by image, and products large enough (at inference the fully connected layers
// at batch 1000) split by rows, over one set of worker threads.
const threaded = threads > 1 && (await enableThreads(threads));

await runWorker("pico", args, async (workload) => {
  const network = workload.network === "cifar" ? new PicoCifarNetwork(workload.weights) : new PicoNetwork(workload.weights);
  return {
    system: {
      loss: (batch) => network.loss(batch),
      trainStep: (batch) => network.trainStep(batch),
      predict: (images, count) => network.predict(images, count),
    },
    info: { gemm: activeGemm(), threads: threaded ? threads : 1 },
  };
});

function activeGemm(): string {
  const active = kernels.setGemm(kernels.gemmReference);
  kernels.setGemm(active);
  return active.name || "anonymous";
}
