import { ArgumentError, Tensor, type DType, type Generator } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { convTranspose2d, convTransposeOutputSize } from "../functional/conv-transpose2d.js";
import { pair, type IntPair } from "../functional/pair.js";
import { kaimingUniform, uniform } from "../init.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkChannels, showPair } from "./check.js";
import { checkConvChannels } from "./conv-options.js";

export interface ConvTranspose2dLayerOptions {
  /** Default 1. */
  stride?: IntPair;
  /** dilation·(kernel − 1) − padding zeros are (implicitly) added to each side of the input. Default 0. */
  padding?: IntPair;
  /** Extra rows/columns on the bottom/right of the output; smaller than stride or dilation. Default 0. */
  outputPadding?: IntPair;
  /** Default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /** Default 1. */
  dilation?: IntPair;
  dtype?: DType;
  generator?: Generator;
}

/**
 * The transposed ("fractionally strided") 2-D convolution of torch.nn.ConvTranspose2d, the gradient of a
 * convolution with respect to its input: upsampling in decoders, autoencoders and U-Nets.
 *
 * Shape: [N, inChannels, H, W] (or unbatched) → [N, outChannels, Hout, Wout] with
 * Hout = (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1, and Wout likewise;
 * weight [inChannels, outChannels / groups, kH, kW] (torch's layout and key), bias [outChannels].
 * Initialised as torch: kaiming_uniform(a = √5) over fanIn = outChannels / groups · kH · kW, bias U(±1/√fanIn).
 */
export class ConvTranspose2d extends Module {
  static override keepsNoReferences = true;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: IntPair, options: ConvTranspose2dLayerOptions = {}) {
    super();
    const layer = "ConvTranspose2d";
    checkOptions(layer, options, ["stride", "padding", "outputPadding", "groups", "bias", "dilation", "dtype", "generator"]);
    const groups = checkConvChannels(layer, inChannels, outChannels, options.groups);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.groups = groups;
    this.kernelSize = pair(layer, "kernelSize", kernelSize, 1);
    this.stride = pair(layer, "stride", options.stride ?? 1, 1);
    this.padding = pair(layer, "padding", options.padding ?? 0, 0);
    this.outputPadding = pair(layer, "outputPadding", options.outputPadding ?? 0, 0);
    this.dilation = pair(layer, "dilation", options.dilation ?? 1, 1);
    for (let i = 0; i < 2; i++) {
      if (this.outputPadding[i]! >= this.stride[i]! && this.outputPadding[i]! >= this.dilation[i]!) {
        throw new ArgumentError(
          `${layer}: outputPadding must be smaller than either stride or dilation, but got outputPadding ${showPair(this.outputPadding)}, stride ${showPair(this.stride)}, dilation ${showPair(this.dilation)}`,
        );
      }
    }
    const dtype = options.dtype ?? "float32";
    this.weight = new Parameter(Tensor.zeros([inChannels, outChannels / groups, ...this.kernelSize], { dtype }));
    this.bias = options.bias === false ? null : new Parameter(Tensor.zeros([outChannels], { dtype }));
    this.resetParameters({ generator: options.generator });
  }

  /** torch's initialisation: its fan-in is read off the weight's axis 1 (outChannels / groups) times the kernel. */
  resetParameters(options: { generator?: Generator | undefined } = {}): void {
    kaimingUniform(this.weight, { a: Math.sqrt(5), generator: options.generator });
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt((this.outChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1]);
      uniform(this.bias, -bound, bound, { generator: options.generator });
    }
  }

  /** The output's [H, W] for an input's [H, W]. */
  outputSize(height: number, width: number): [number, number] {
    return [0, 1].map((i) =>
      convTransposeOutputSize([height, width][i]!, this.kernelSize[i]!, this.stride[i]!, this.padding[i]!, this.dilation[i]!, this.outputPadding[i]!),
    ) as [number, number];
  }

  forward(input: Tensor): Tensor {
    const c = this.inChannels;
    checkChannels("ConvTranspose2d", input, c, [3, 4], (rank) => rank - 3, `[N, ${c}, H, W]`);
    return convTranspose2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation });
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}`;
    if (this.padding[0] !== 0 || this.padding[1] !== 0) s += `, padding=${showPair(this.padding)}`;
    if (this.outputPadding[0] !== 0 || this.outputPadding[1] !== 0) s += `, outputPadding=${showPair(this.outputPadding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${showPair(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ", bias=false";
    return s;
  }
}
