import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";

// [a, b]: matrices, vectors on either side, batches on either side, broadcast batches.
const MATMUL: [number[], number[]][] = [
  [[3, 4], [4, 5]],
  [[1, 1], [1, 1]],
  [[4], [4, 5]],
  [[3, 4], [4]],
  [[4], [4]],
  [[2, 3, 4], [4, 5]],
  [[3, 4], [2, 4, 5]],
  [[2, 3, 4], [2, 4, 5]],
  [[2, 1, 3, 4], [5, 4, 6]],
  [[1, 3, 4], [2, 4, 5]],
  [[2, 3, 4], [4]],
  [[4], [2, 4, 5]],
  [[17, 33], [33, 19]],
  [[2, 9, 65], [65, 3]],
  // The reference network's fc1 at batch 64 (the WebAssembly GEMM), and a batch of tall products.
  [[64, 256], [256, 120]],
  [[8, 300, 70], [70, 33]],
];

describeTorch("matmul and addmm vs torch", () => {
  for (const [sa, sb] of MATMUL) {
    it(`matmul a=[${sa}] b=[${sb}]`, () => compareWithTorch([sa, sb], (a, b) => a.matmul(b), "a @ b", { label: `matmul [${sa}] [${sb}]` }));
  }
  it("matmul of strided inputs", () => compareWithTorch([[2, 3, 4], [4, 5]], (a, b) => a.matmul(b), "a @ b", { strided: true }));
  it("matmul of transposed views", () => compareWithTorch([[4, 3], [5, 4]], (a, b) => a.transpose().matmul(b.transpose()), "a.t() @ b.t()"));

  for (const bias of [[5], [3, 5], [3, 1], [1, 5], [], [1]]) {
    it(`addmm input=[${bias}] mat1=[3,4] mat2=[4,5]`, () =>
      compareWithTorch([bias, [3, 4], [4, 5]], (c, a, b) => c.addmm(a, b), "torch.addmm(c, a, b)", { names: ["c", "a", "b"], label: `addmm [${bias}]` }));
  }
  it("addmm of fc1's shapes (bias row, batch 64)", () =>
    compareWithTorch([[120], [64, 256], [256, 120]], (c, a, b) => c.addmm(a, b), "torch.addmm(c, a, b)", { names: ["c", "a", "b"] }));
  it("addmm of strided inputs", () => compareWithTorch([[3, 5], [3, 4], [4, 5]], (c, a, b) => c.addmm(a, b), "torch.addmm(c, a, b)", { names: ["c", "a", "b"], strided: true }));
});
