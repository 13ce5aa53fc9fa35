import { kernels } from "@pico/core";
import { PicoNetwork } from "./pico-network.js";
import { parseWorkerArgs, runWorker } from "./worker-cli.js";

await runWorker("pico", parseWorkerArgs(process.argv.slice(2)), async (workload) => {
  const network = new PicoNetwork(workload.weights);
  return {
    system: {
      loss: (batch) => network.loss(batch),
      trainStep: (batch) => network.trainStep(batch),
      predict: (images, count) => network.predict(images, count),
    },
    info: { gemm: activeGemm() },
  };
});

function activeGemm(): string {
  const active = kernels.setGemm(kernels.gemmReference);
  kernels.setGemm(active);
  return active.name || "anonymous";
}
