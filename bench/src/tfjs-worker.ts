import * as tf from "@tensorflow/tfjs-core";
import { TfjsCifarNetwork, CIFAR_GRADIENT_KERNELS } from "./tfjs-cifar-network.js";
import { NETWORK_GRADIENT_KERNELS, registerTfjsGradients } from "./tfjs-gradients.js";
import { TfjsNetwork } from "./tfjs-network.js";
import { tfjsBackendInfo, useTfjsBackend } from "./tfjs-setup.js";
import { parseWorkerArgs, runWorker } from "./worker-cli.js";

const args = parseWorkerArgs(process.argv.slice(2), ["backend"]);
const backend = args.extra["backend"] ?? "wasm";
if (backend !== "wasm" && backend !== "cpu") throw new Error(`tfjs-worker: --backend must be wasm or cpu, but got ${backend}`);

await runWorker(`tfjs-${backend}`, args, async (workload) => {
  await useTfjsBackend(backend);
  const cifar = workload.network === "cifar";
  await registerTfjsGradients(cifar ? [...new Set([...NETWORK_GRADIENT_KERNELS, ...CIFAR_GRADIENT_KERNELS])] : NETWORK_GRADIENT_KERNELS);
  const network = cifar ? new TfjsCifarNetwork(workload.weights) : new TfjsNetwork(workload.weights);
  const info = tfjsBackendInfo();
  return {
    system: network,
    info: { ...info, tfjsVersion: tf.version_core },
  };
});
