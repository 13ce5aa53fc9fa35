import { CIFAR_CLASSIFIER, CIFAR_CONVS } from "./cifar-network.js";
import type { NetworkName } from "./workload.js";

/** Multiply-adds of one layer for one image, and whether its input needs a gradient (not so for the first layer). */
interface LayerWork {
  macs: number;
  inputNeedsGrad: boolean;
}

/** FLOPs per image (a multiply-add counts 2), from the layer shapes. */
export interface FlopCount {
  /** Convolutions and linear layers, forward. */
  forward: number;
  /** Forward, weight gradient of every layer, and input gradient of every layer but the first. */
  train: number;
}

function convMacs(inChannels: number, outChannels: number, kernel: number, outSize: number): number {
  return outChannels * outSize * outSize * inChannels * kernel * kernel;
}

function layers(network: NetworkName): LayerWork[] {
  if (network === "reference") {
    return [
      { macs: convMacs(1, 8, 5, 24), inputNeedsGrad: false },
      { macs: convMacs(8, 16, 5, 8), inputNeedsGrad: true },
      { macs: 256 * 120, inputNeedsGrad: true },
      { macs: 120 * 10, inputNeedsGrad: true },
    ];
  }
  return [
    ...CIFAR_CONVS.map((c, i) => ({ macs: convMacs(c.inChannels, c.outChannels, 3, c.size), inputNeedsGrad: i > 0 })),
    { macs: CIFAR_CLASSIFIER.inFeatures * CIFAR_CLASSIFIER.outFeatures, inputNeedsGrad: true },
  ];
}

/**
 * The FLOPs that the convolutions and linear layers need (BatchNorm, ReLU, pooling and the loss are
 * left out: they are memory-bound and a small part of the count), as PyTorch's own FLOP counters do.
 */
export function networkFlops(network: NetworkName): FlopCount {
  let forward = 0;
  let train = 0;
  for (const layer of layers(network)) {
    const flops = 2 * layer.macs;
    forward += flops;
    train += flops * (layer.inputNeedsGrad ? 3 : 2);
  }
  return { forward, train };
}
