import { kernels } from "@pico/core";
import { installWasmConvThreads } from "@pico/core/threads";
import { PicoNetwork } from "./pico-network.js";
import { parseWorkerArgs, runWorker } from "./worker-cli.js";

const args = parseWorkerArgs(process.argv.slice(2), ["threads"]);
const threads = Number(args.extra.threads ?? "1");
// Only the convolutions run on several threads: this network's GEMMs (at most 256×120 per image)
// stay below the threaded GEMM's size threshold while training, and each worker thread is a V8
// isolate costing about 9 MB of RSS, so the GEMM pool would only add memory.
const threaded = threads > 1 && (await installWasmConvThreads({ threads }));

await runWorker("pico", args, async (workload) => {
  const network = new PicoNetwork(workload.weights);
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
