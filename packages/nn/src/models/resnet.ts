import { ArgumentError, type Generator, type Tensor } from "@pico/core";
import { addRelu } from "../functional/add-relu.js";
import { checkOptions } from "../functional/check.js";
import { kaimingNormal } from "../init.js";
import { AdaptiveAvgPool2d } from "../layers/adaptive-avg-pool2d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { checkPositiveInteger } from "../layers/check.js";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { Sequential } from "../layers/sequential.js";
import { keepsNoReferences } from "../keeps-no-references.js";
import { Module } from "../module.js";
import { releaseDead } from "../release-dead.js";

interface ConvInit {
  generator?: Generator | undefined;
}

function conv(inChannels: number, outChannels: number, kernel: number, stride: number, init: ConvInit): Conv2d {
  const c = new Conv2d(inChannels, outChannels, kernel, { stride, padding: (kernel - 1) / 2, bias: false });
  // torchvision's ResNet initialisation: kaiming_normal_(mode="fan_out", nonlinearity="relu").
  kaimingNormal(c.weight, { mode: "fanOut", nonlinearity: "relu", generator: init.generator });
  return c;
}

/**
 * torchvision's BasicBlock: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))` with 3×3 convolutions
 * without bias; conv1 carries the stride. When the stride or the width changes, the shortcut is
 * `downsample` = Sequential(Conv2d 1×1 with the stride, BatchNorm2d) (option B of He et al.), else the
 * identity. State-dict keys: conv1.weight, bn1.*, conv2.weight, bn2.*, downsample.0.weight, downsample.1.*.
 *
 * Shape: [N, inChannels, H, W] → [N, outChannels, floor((H − 1) / stride) + 1, floor((W − 1) / stride) + 1].
 */
export class BasicBlock extends Module {
  static override keepsNoReferences = true;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inChannels: number, outChannels: number, stride = 1, options: { generator?: Generator } = {}) {
    super();
    checkPositiveInteger("BasicBlock", "inChannels", inChannels);
    checkPositiveInteger("BasicBlock", "outChannels", outChannels);
    checkPositiveInteger("BasicBlock", "stride", stride);
    this.conv1 = conv(inChannels, outChannels, 3, stride, options);
    this.bn1 = new BatchNorm2d(outChannels);
    this.conv2 = conv(outChannels, outChannels, 3, 1, options);
    this.bn2 = new BatchNorm2d(outChannels);
    this.downsample = stride !== 1 || inChannels !== outChannels ? new Sequential(conv(inChannels, outChannels, 1, stride, options), new BatchNorm2d(outChannels)) : null;
  }

  forward(x: Tensor): Tensor {
    const c1 = this.conv1.forward(x);
    const h1 = this.bn1.forwardRelu(c1);
    const c2 = this.conv2.forward(h1);
    const shortcut = this.downsample === null ? x : this.downsample.forward(x);
    // In place: the result is bn2's output array.
    const out = addRelu(this.bn2.forward(c2), shortcut, { inplace: true });
    // Nothing outside this forward holds the intermediates: their buffers serve the next call's (in the
    // threads' shared memory too, where a region nobody gives back stays taken until its tensor is collected).
    if (keepsNoReferences(this)) {
      releaseDead(c1, x, h1, out);
      releaseDead(h1, x, c2, out);
      releaseDead(c2, x, out);
      releaseDead(shortcut, x, out);
    }
    return out;
  }
}

export interface ResNetOptions {
  /** 6n + 2 layers: n BasicBlocks in each of the three stages (8, 14, 20, 32, 44, 56, 110). Default 20. */
  depth?: number;
  /** Channels of the three stages; the stem convolution has the first. Default [16, 32, 64] (He et al.'s CIFAR ResNets). */
  widths?: readonly [number, number, number];
  /** Channels of the input image: 1 for MNIST, 3 for CIFAR. Default 1. */
  inChannels?: number;
  /** Default 10. */
  numClasses?: number;
  /** Source of the initial weights; default the global default generator. */
  generator?: Generator;
}

/**
 * The CIFAR ResNets of He et al. 2016 (section 4.2), written with torchvision's module names: a 3×3
 * stem `conv1`/`bn1`, stages `layer1`..`layer3` of BasicBlocks (the first block of layer2 and layer3
 * halves the resolution with a 1×1 downsampling shortcut), `avgpool` = AdaptiveAvgPool2d(1), `fc`.
 * Works on any input of at least 1×1 (28×28 MNIST: 28 → 14 → 7; 32×32 CIFAR: 32 → 16 → 8).
 *
 * Shape: [N, inChannels, H, W] → [N, numClasses]. ResNet-8 with the default widths has 77,754
 * parameters on 1-channel input, ResNet-20 272,186.
 */
export class ResNet extends Module {
  static override keepsNoReferences = true;
  readonly depth: number;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly avgpool = new AdaptiveAvgPool2d(1);
  readonly flatten = new Flatten();
  readonly fc: Linear;

  constructor(options: ResNetOptions = {}) {
    super();
    checkOptions("ResNet", options, ["depth", "widths", "inChannels", "numClasses", "generator"]);
    const depth = options.depth ?? 20;
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
      throw new ArgumentError(`ResNet: depth must be 6n + 2 for a whole n >= 1 (8, 14, 20, 32, ...), but got ${depth}`);
    }
    const widths = options.widths ?? [16, 32, 64];
    if (!Array.isArray(widths) || widths.length !== 3) throw new ArgumentError(`ResNet: widths must list 3 channel counts, but got ${JSON.stringify(widths)}`);
    widths.forEach((w, i) => checkPositiveInteger("ResNet", `widths[${i}]`, w));
    const inChannels = options.inChannels ?? 1;
    const numClasses = options.numClasses ?? 10;
    checkPositiveInteger("ResNet", "inChannels", inChannels);
    checkPositiveInteger("ResNet", "numClasses", numClasses);
    const init = options.generator === undefined ? {} : { generator: options.generator };
    this.depth = depth;
    const blocks = (depth - 2) / 6;
    const stage = (from: number, to: number, stride: number): Sequential =>
      new Sequential(...Array.from({ length: blocks }, (_, i) => new BasicBlock(i === 0 ? from : to, to, i === 0 ? stride : 1, init)));
    this.conv1 = conv(inChannels, widths[0], 3, 1, init);
    this.bn1 = new BatchNorm2d(widths[0]);
    this.layer1 = stage(widths[0], widths[0], 1);
    this.layer2 = stage(widths[0], widths[1], 2);
    this.layer3 = stage(widths[1], widths[2], 2);
    this.fc = new Linear(widths[2], numClasses, init);
  }

  forward(x: Tensor): Tensor {
    const c1 = this.conv1.forward(x);
    const stem = this.bn1.forwardRelu(c1);
    const stage1 = this.layer1.forward(stem);
    const stage2 = this.layer2.forward(stage1);
    const features = this.layer3.forward(stage2);
    const pooled = this.avgpool.forward(features);
    // The stem's and the stages' outputs are dead once the next has read them (a Sequential recycles
    // only between its own children).
    if (keepsNoReferences(this)) {
      releaseDead(c1, x, stem);
      releaseDead(stem, x, stage1);
      releaseDead(stage1, x, stage2);
      releaseDead(stage2, x, features);
      releaseDead(features, x, pooled);
    }
    return this.fc.forward(this.flatten.forward(pooled));
  }

  override extraRepr(): string {
    return `depth=${this.depth}`;
  }
}

/** ResNet-8 (one BasicBlock per stage). */
export function resnet8(options: Omit<ResNetOptions, "depth"> = {}): ResNet {
  return new ResNet({ ...options, depth: 8 });
}

/** ResNet-20 (three BasicBlocks per stage). */
export function resnet20(options: Omit<ResNetOptions, "depth"> = {}): ResNet {
  return new ResNet({ ...options, depth: 20 });
}
