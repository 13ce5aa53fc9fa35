import { Generator, Tensor, kernels } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { CifarNet, CifarResidualBlock } from "../models/cifar-net.js";
import { referenceCnn } from "../models/reference-cnn.js";
import { Module } from "../module.js";

// In training, the fusion patterns arm the kernels to leave an input gradient in the WebAssembly module
// for the next backward (patterns.ts): a BatchNorm's for the convolution before it, and a convolution's or
// max pooling's for the BatchNorm's backward before it where nothing else reads the tensor. The counts
// show where it happens; the gradients equal those of the same fused run whose inputs are not known to be
// read alone (nothing handed on between runs), bit for bit.

interface Step {
  grads: number[][];
  offered: number;
  taken: number;
}

/** One forward and backward of `model` in training on the wasm kernels: every gradient's bits, and the offers made and taken in backward. */
function step(model: Module<[Tensor], Tensor>, shape: number[]): Step {
  model.train();
  const x = Tensor.randn(shape, { generator: new Generator(11), requiresGrad: true });
  const y = model.forward(x);
  const r = Tensor.randn(y.shape, { generator: new Generator(12) });
  const loss = y.mul(r).sum();
  const before = kernels.handOffCounts();
  loss.backward();
  const after = kernels.handOffCounts();
  const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.grad!.toTypedArray() as Float32Array).buffer));
  return { grads: [x, ...model.parameters()].map(bits), offered: after.offered - before.offered, taken: after.taken - before.taken };
}

function withSequential<T>(settings: { fusion: boolean; recycling: boolean }, f: () => T): T {
  const previous = { fusion: Sequential.fusion, recycling: Sequential.recycling };
  Object.assign(Sequential, settings);
  try {
    return f();
  } finally {
    Object.assign(Sequential, previous);
  }
}

const gen = (seed: number): { generator: Generator } => ({ generator: new Generator(seed) });

// Conv2d → BatchNorm2d → ReLU, Conv2d → BatchNorm2d → ReLU → MaxPool2d, Conv2d → BatchNorm2d → ReLU:
// three fused runs, each reading the one before alone (pool input 4·8·32·32 floats: split on 2 threads).
const network = (): Sequential =>
  new Sequential(
    new Conv2d(3, 8, 3, { padding: 1, ...gen(1) }), new BatchNorm2d(8), new ReLU(),
    new Conv2d(8, 8, 3, { padding: 1, ...gen(2) }), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
    new Conv2d(8, 8, 3, { padding: 1, ...gen(3) }), new BatchNorm2d(8), new ReLU(),
  );
const shape = [4, 3, 32, 32];

class PlainChain extends Module<[Tensor], Tensor> {
  readonly bn1 = new BatchNorm2d(8);
  readonly conv = new Conv2d(8, 8, 3, { padding: 1, ...gen(4) });
  readonly pool = new MaxPool2d(2);
  readonly bn2 = new BatchNorm2d(8);

  forward(x: Tensor): Tensor {
    return this.bn2.forward(this.pool.forward(this.conv.forward(this.bn1.forward(x)).relu()));
  }
}

describe("training: input gradients handed on in the kernel module only where a fusion pattern knows the next backward", () => {
  afterAll(() => disableThreads());

  for (const threads of [1, 2]) {
    it(`a Sequential's fused runs hand on what their caller knows goes to one backward, with the bits of copying it in, ${threads} thread(s)`, async () => {
      expect(await enableThreads(threads)).toBe(true);
      const handed = withSequential({ fusion: true, recycling: true }, () => step(network(), shape));
      // Recycling off: the Sequential does not track which intermediates nothing else reaches, so no run's input is known to be read alone.
      const apart = withSequential({ fusion: true, recycling: false }, () => step(network(), shape));
      const unfused = withSequential({ fusion: false, recycling: true }, () => step(network(), shape));
      expect(handed.grads).toEqual(apart.grads);
      // Each BatchNorm's input gradient, taken by the convolution's backward before it (3); the second and
      // third convolutions' input gradients (the first's input is the Sequential's, which the caller may
      // read elsewhere), the second taken by the first BatchNorm's backward, the third not taken by max
      // pooling's. On 2 threads every array from 64 KiB on lives in the threads' memory (resident storage),
      // where the kernels read it in place: only the third run's (4·8·16·16 floats) BatchNorm input gradient,
      // taken by the third convolution's backward, and that convolution's input gradient are offered.
      expect([handed.offered, handed.taken]).toEqual(threads === 1 ? [5, 4] : [2, 1]);
      // Not known to be read alone: the BatchNorms' input gradients (on 2 threads the third's alone).
      expect([apart.offered, apart.taken]).toEqual(threads === 1 ? [3, 3] : [1, 1]);
      // Unfused modules: nothing offered in backward.
      expect([unfused.offered, unfused.taken]).toEqual([0, 0]);
    });
  }

  for (const threads of [1, 2]) {
    it(`the reference network's second convolution hands its input gradient to the first's backward, with the bits of copying it in, ${threads} thread(s)`, async () => {
      expect(await enableThreads(threads)).toBe(true);
      const run = (recycling: boolean): Step => withSequential({ fusion: true, recycling }, () => step(referenceCnn(new Generator(7)), [8, 1, 28, 28]));
      const handed = run(true);
      // Recycling off: conv2's input (the first fused run's output) is not known to be read alone.
      const apart = run(false);
      expect(handed.grads).toEqual(apart.grads);
      // Conv2d → ReLU → MaxPool2d twice: the second's input gradient, taken by the first's backward.
      expect([handed.offered, handed.taken]).toEqual([1, 1]);
      expect([apart.offered, apart.taken]).toEqual([0, 0]);
    });
  }

  it("a plain convolution or max pooling never offers its input gradient, whatever follows it", async () => {
    expect(await enableThreads(2)).toBe(true);
    // BatchNorm, convolution, ReLU, max pooling, BatchNorm called one by one (no fusion): nothing offered in backward.
    const plain = step(new PlainChain(), [4, 8, 32, 32]);
    expect([plain.offered, plain.taken]).toEqual([0, 0]);
  });

  it("the CIFAR-shaped network's backward needs no hand-off on 2 threads: its activations and gradients live in the threads' memory", async () => {
    expect(await enableThreads(2)).toBe(true);
    // Every activation and gradient of the convolutions, BatchNorms and poolings (from 4·128·8·8 floats on)
    // is resident storage, read and written in place by the kernels: nothing is copied out to be offered.
    // (Without it: each BatchNorm's input gradient to its convolution, the input gradients of the second
    // convolution and of the residual block's second to the BatchNorm before them, the first max pooling's
    // to the BatchNorm before it: 9 hand-offs.)
    const { offered, taken } = step(new CifarNet(gen(6)), [4, 3, 32, 32]);
    expect([offered, taken]).toEqual([0, 0]);
  });

  it("the residual block's second convolution hands its input gradient to the first BatchNorm's backward (its forward declares it with readAlone)", async () => {
    expect(await enableThreads(1)).toBe(true);
    const block = (): CifarResidualBlock => new CifarResidualBlock(8, gen(5));
    const handed = step(block(), [4, 8, 16, 16]);
    // bn2's and bn1's input gradients, taken by conv2's and conv1's backward; conv2's, taken by bn1's. conv1's input is x, which the skip also reads.
    expect([handed.offered, handed.taken]).toEqual([3, 3]);
  });
});
