import type { Generator, Tensor } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { fuseModules } from "../fusion/fuse-modules.js";
import { readAlone } from "../fusion/read-alone.js";
import { keepsNoReferences } from "../keeps-no-references.js";
import { AdaptiveAvgPool2d } from "../layers/adaptive-avg-pool2d.js";
import { AddReLU } from "../layers/add-relu.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { checkPositiveInteger } from "../layers/check.js";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { Module } from "../module.js";
import { releaseDead } from "../release-dead.js";

export interface CifarNetOptions {
  /** Channels of the input image. Default 3. */
  inChannels?: number;
  /** Default 10. */
  numClasses?: number;
  /** Source of the initial weights; default the global default generator. */
  generator?: Generator;
}

/**
 * `relu(x + bn2(conv2(relu(bn1(conv1(x))))))` with 3×3 padded convolutions (with bias) keeping the
 * channels and the size: the residual block of the CIFAR-shaped network. Keys conv1.*, bn1.*, conv2.*, bn2.*.
 * Its forward calls the modules as PyTorch's would, fused by fuseModules ([conv1, bn1, relu] and
 * [conv2, bn2, addRelu]: BatchNorm folded into the convolution in evaluation; in training BatchNorm + ReLU
 * in one pass, and bn2 adding x and rectifying as it writes, F.batchNormAddRelu), ending with the
 * AddReLU module (torchvision's quantizable BasicBlock's `add_relu`), in place into bn2's output where it
 * runs apart. Its forward keeps no reference to x or its output (keepsNoReferences), so a Sequential
 * recycles them; the inner activation goes back to the buffer pool itself (at once under noGrad, once
 * backward is done with it in grad mode).
 */
export class CifarResidualBlock extends Module {
  static override keepsNoReferences = true;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu = new ReLU();
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly addRelu = new AddReLU({ inplace: true });

  constructor(channels: number, options: { generator?: Generator } = {}) {
    super();
    checkPositiveInteger("CifarResidualBlock", "channels", channels);
    this.conv1 = new Conv2d(channels, channels, 3, { padding: 1, ...options });
    this.bn1 = new BatchNorm2d(channels);
    this.conv2 = new Conv2d(channels, channels, 3, { padding: 1, ...options });
    this.bn2 = new BatchNorm2d(channels);
    fuseModules(this, [["conv1", "bn1", "relu"], ["conv2", "bn2", "addRelu"]]);
  }

  forward(x: Tensor): Tensor {
    const h = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    // h goes to conv2 alone: its gradient may stay in the kernel module for bn1's backward.
    const out = this.addRelu.forward(this.bn2.forward(this.conv2.forward(readAlone(h))), x);
    // Nothing outside this forward holds h: its buffer serves the next call's h (a fresh 16 MB array at
    // batch 256 costs ~7 ms of first-touch page faults).
    if (keepsNoReferences(this)) releaseDead(h, x, out);
    return out;
  }
}

/**
 * The CIFAR-shaped network of the speed work (issue 11, the benchmark's second network), in PyTorch
 * notation: `features` = Sequential(Conv2d(3,32,3,p=1) BN ReLU Conv2d(32,32,3,p=1) BN ReLU MaxPool2d(2)
 * Conv2d(32,64,3,p=1) BN ReLU CifarResidualBlock(64) MaxPool2d(2) Conv2d(64,128,3,p=1) BN ReLU), a mean
 * over H and W (`pool`, AdaptiveAvgPool2d(1), no parameters), `classifier` = Linear(128, numClasses).
 * State-dict keys are the benchmark's torch module's: features.0.weight, features.1.running_mean,
 * features.10.conv1.weight, classifier.weight, ...
 *
 * Shape: [N, inChannels, H, W] with H, W >= 4 → [N, numClasses]; 178,410 parameters on 3-channel input.
 */
export class CifarNet extends Module {
  static override keepsNoReferences = true;
  readonly features: Sequential;
  readonly pool = new AdaptiveAvgPool2d(1);
  readonly flatten = new Flatten();
  readonly classifier: Linear;

  constructor(options: CifarNetOptions = {}) {
    super();
    checkOptions("CifarNet", options, ["inChannels", "numClasses", "generator"]);
    const inChannels = options.inChannels ?? 3;
    const numClasses = options.numClasses ?? 10;
    checkPositiveInteger("CifarNet", "inChannels", inChannels);
    checkPositiveInteger("CifarNet", "numClasses", numClasses);
    const init = options.generator === undefined ? {} : { generator: options.generator };
    const conv = (from: number, to: number): Conv2d => new Conv2d(from, to, 3, { padding: 1, ...init });
    this.features = new Sequential(
      conv(inChannels, 32),
      new BatchNorm2d(32),
      new ReLU(),
      conv(32, 32),
      new BatchNorm2d(32),
      new ReLU(),
      new MaxPool2d(2),
      conv(32, 64),
      new BatchNorm2d(64),
      new ReLU(),
      new CifarResidualBlock(64, init),
      new MaxPool2d(2),
      conv(64, 128),
      new BatchNorm2d(128),
      new ReLU(),
    );
    this.classifier = new Linear(128, numClasses, init);
  }

  forward(x: Tensor): Tensor {
    const features = this.features.forward(x);
    const pooled = this.pool.forward(features);
    // The features' output is dead once pooled: its buffer serves the next call's.
    if (keepsNoReferences(this)) releaseDead(features, x, pooled);
    return this.classifier.forward(this.flatten.forward(pooled));
  }
}
