import { kernelInfo } from "@pico/core";
import { enableThreads } from "@pico/core/threads";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { PicoDataParallelNetwork } from "./pico-data-parallel.js";
import { PicoNetwork } from "./pico-network.js";
import { parseWorkerArgs, runWorker } from "./worker-cli.js";

const args = parseWorkerArgs(process.argv.slice(2), ["threads", "replicas"]);
const threads = Number(args.extra.threads ?? "1");
// Data-parallel: the step split by batch shards over this thread and replicas - 1 worker threads.
const replicas = Number(args.extra.replicas ?? "1");
// Convolutions split by image, and products large enough (at inference the fully connected layers
// at batch 1000) split by rows, over one set of worker threads.
const threaded = threads > 1 && (await enableThreads(threads));

await runWorker("pico", args, async (workload) => {
  const network =
    replicas > 1
      ? await PicoDataParallelNetwork.create(workload.network, workload.weights, replicas)
      : workload.network === "cifar"
        ? new PicoCifarNetwork(workload.weights)
        : new PicoNetwork(workload.weights);
  return {
    system: network,
    info: { threads: threaded ? threads : 1, replicas, ...kernelSummary() },
  };
});

/** Which kernels run, as the registry resolves them once the threads are up: `gemm wasm/2t, conv2d wasm/2t, ...`. */
function kernelSummary(): Record<string, string | boolean | number> {
  const info = kernelInfo();
  const families = Object.entries(info.families)
    .map(([name, f]) => `${name} ${f.backend}${f.threads > 1 ? `/${f.threads}t` : ""}`)
    .join(", ");
  return { kernels: families, wasmSimd: info.wasm.simd, relaxedSimd: info.wasm.relaxedSimd, kernelThreads: info.threads };
}
