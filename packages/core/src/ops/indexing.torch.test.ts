import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { clampTensor, cumsum, gather, indexSelect, scatterAdd, where } from "./indexing.js";

describeTorch("indexSelect, gather, scatterAdd, cumsum, where, clamp with tensor bounds vs torch", () => {
  it("indexSelect axis 1 with repeats", () =>
    compareWithTorch([[3, 4, 2], [6]], (a, i) => indexSelect(a, 1, i), "torch.index_select(a, 1, b)", { inputs: [{}, { int: 4 }] }));
  it("indexSelect axis -1, non-contiguous", () => compareWithTorch([[3, 5], [4]], (a, i) => indexSelect(a, -1, i), "torch.index_select(a, -1, b)", { inputs: [{ strided: true }, { int: 5 }] }));
  it("gather axis 1 (a smaller index, repeats)", () => compareWithTorch([[3, 5, 2], [2, 4, 2]], (a, i) => gather(a, 1, i), "torch.gather(a, 1, b)", { inputs: [{}, { int: 5 }] }));
  it("gather axis 0", () => compareWithTorch([[4, 3], [6, 3]], (a, i) => gather(a, 0, i), "torch.gather(a, 0, b)", { inputs: [{}, { int: 4 }] }));
  it("scatterAdd axis 1 (collisions add up)", () =>
    compareWithTorch([[3, 4], [3, 6], [3, 6]], (a, i, s) => scatterAdd(a, 1, i, s), "torch.scatter_add(a, 1, b, c)", { inputs: [{}, { int: 4 }, {}] }));
  it("scatterAdd axis 0 of a 3-D input", () =>
    compareWithTorch([[4, 2, 3], [5, 2, 3], [5, 2, 3]], (a, i, s) => scatterAdd(a, 0, i, s), "torch.scatter_add(a, 0, b, c)", { inputs: [{}, { int: 4 }, {}] }));
  it("cumsum on each axis", async () => {
    await compareWithTorch([[3, 4, 5]], (a) => cumsum(a, 1), "torch.cumsum(a, 1)");
    await compareWithTorch([[3, 4, 5]], (a) => cumsum(a, -1), "torch.cumsum(a, -1)", { strided: true });
    await compareWithTorch([[6]], (a) => cumsum(a, 0), "torch.cumsum(a, 0)");
  });
  it("where with broadcasting", () =>
    compareWithTorch([[3, 1], [3, 4], [4]], (c, a, b) => where(c, a, b), "torch.where(a > 0.5, b, c)", { inputs: [{ choices: [0, 1], requiresGrad: false, torchDtype: "float64" }, {}, {}] }));
  it("clamp with tensor bounds (and a bound below the other)", () =>
    compareWithTorch([[4, 5], [5], [4, 1]], (x, lo, hi) => clampTensor(x, lo, hi), "torch.clamp(a, b, c)", { avoid: [] }));
  it("clamp with a min tensor only", () => compareWithTorch([[4, 5], [4, 5]], (x, lo) => clampTensor(x, lo, null), "torch.clamp(a, min=b)"));
});
