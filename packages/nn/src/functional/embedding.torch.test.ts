import { Generator, Tensor, tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { describe, expect, it } from "vitest";
import { Embedding } from "../layers/embedding.js";
import { embedding } from "./embedding.js";

describeTorch("embedding vs torch: output and weight gradient", () => {
  it("indices [2, 5] into a [7, 3] table, repeats", () => compareWithTorch([[2, 5], [7, 3]], (i, w) => embedding(i, w), "F.embedding(a, b)", { inputs: [{ int: 7 }, {}] }));
  it("paddingIdx 2: its rows get no gradient", () =>
    compareWithTorch([[12], [4, 2]], (i, w) => embedding(i, w, { paddingIdx: 2 }), "F.embedding(a, b, padding_idx=2)", { inputs: [{ int: 4 }, {}] }));
});

describe("Embedding", () => {
  it("initialises N(0, 1) with the padding row zeroed, keeps torch's key, refuses bad arguments", () => {
    const e = new Embedding(10, 4, { paddingIdx: -1, generator: new Generator(1) });
    expect(e.paddingIdx).toBe(9);
    expect(Object.keys(e.stateDict())).toEqual(["weight"]);
    expect(Array.from(e.weight.toTypedArray().subarray(36))).toEqual([0, 0, 0, 0]);
    expect(e.forward(tensor([[1, 9]])).shape).toEqual([1, 2, 4]);
    expect(() => new Embedding(5, 2, { paddingIdx: 5 })).toThrow("Embedding: paddingIdx must be within numEmbeddings, a whole number in [-5, 5), but got 5");
    expect(() => new Embedding(5, 2, { maxNorm: 1 } as never)).toThrow(/Embedding: unknown option "maxNorm"/);
    expect(() => e.forward(tensor([10]))).toThrow(/indexSelect: index 10 is out of range for an axis of size 10/);
    expect(() => embedding(Tensor.zeros([2]), Tensor.zeros([3]))).toThrow("embedding: weight must be [numEmbeddings, embeddingDim], but got shape [3]");
  });
});
