import { ArgumentError, Tensor, noGrad, type DType, type Generator } from "@pico/core";
import { checkOptions } from "../functional/check.js";
import { embedding } from "../functional/embedding.js";
import { normal } from "../init.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { checkPositiveInteger } from "./check.js";

export interface EmbeddingOptions {
  /** A row that stays as it is (zeros at initialisation) and gets no gradient: the padding token. */
  paddingIdx?: number;
  dtype?: DType;
  generator?: Generator;
}

/**
 * A lookup table of learned vectors, as torch.nn.Embedding: input of whole numbers in [0, numEmbeddings)
 * of any shape → [...input.shape, embeddingDim]. Weight [numEmbeddings, embeddingDim] (key `weight`),
 * initialised N(0, 1) with the padding row zeroed.
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    checkOptions("Embedding", options, ["paddingIdx", "dtype", "generator"]);
    checkPositiveInteger("Embedding", "numEmbeddings", numEmbeddings);
    checkPositiveInteger("Embedding", "embeddingDim", embeddingDim);
    const p = options.paddingIdx;
    if (p !== undefined && (!Number.isInteger(p) || p < -numEmbeddings || p >= numEmbeddings)) {
      throw new ArgumentError(`Embedding: paddingIdx must be within numEmbeddings, a whole number in [-${numEmbeddings}, ${numEmbeddings}), but got ${p}`);
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = p === undefined ? null : p < 0 ? p + numEmbeddings : p;
    this.weight = new Parameter(Tensor.zeros([numEmbeddings, embeddingDim], { dtype: options.dtype ?? "float32" }));
    normal(this.weight, 0, 1, { generator: options.generator });
    if (this.paddingIdx !== null) {
      const row = this.paddingIdx;
      noGrad(() => this.weight.data.data.fill(0, row * embeddingDim, (row + 1) * embeddingDim));
    }
  }

  forward(input: Tensor): Tensor {
    return embedding(input, this.weight, { paddingIdx: this.paddingIdx });
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? "" : `, paddingIdx=${this.paddingIdx}`}`;
  }
}
