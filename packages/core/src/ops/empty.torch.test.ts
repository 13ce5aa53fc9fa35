import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { Tensor } from "../tensor.js";

describeTorch("empty tensors vs torch", () => {
  it("exp [0]", () => compareWithTorch([[0]], (a) => a.exp(), "a.exp()"));
  it("add [2,0]+[0]", () => compareWithTorch([[2, 0], [0]], (a, b) => a.add(b), "a + b"));
  it("sum [2,0] axis 1", () => compareWithTorch([[2, 0]], (a) => a.sum(1), "a.sum(1)"));
  it("sum [0,3] all", () => compareWithTorch([[0, 3]], (a) => a.sum(), "a.sum()"));
  it("mean [2,0] axis 1", () => compareWithTorch([[2, 0]], (a) => a.mean(1), "a.mean(1)"));
  it("matmul [3,0]x[0,4]", () => compareWithTorch([[3, 0], [0, 4]], (a, b) => a.matmul(b), "a @ b"));
  it("matmul [0,3]x[3,4]", () => compareWithTorch([[0, 3], [3, 4]], (a, b) => a.matmul(b), "a @ b"));
  it("softmax [0,3]", () => compareWithTorch([[0, 3]], (a) => a.softmax(1), "a.softmax(1)"));
  it("reshape [0,3] -> [3,0]", () => compareWithTorch([[0, 3]], (a) => a.reshape(3, 0), "a.reshape(3, 0)"));
  it("cat with an empty part", () => compareWithTorch([[2, 0], [2, 3]], (a, b) => Tensor.cat([a, b], 1), "torch.cat([a, b], 1)"));
  it("max over a non-empty axis of [0,3]", () => compareWithTorch([[0, 3]], (a) => a.max(1), "a.max(1)[0]"));
  it("logSumExp [2,0] axis 1", () => compareWithTorch([[2, 0]], (a) => a.logSumExp(1), "torch.logsumexp(a, 1)"));
  it("mixed dtypes in cat", () => compareWithTorch([[2, 3], [1, 3]], (a, b) => Tensor.cat([a.to("float32"), b], 0), "torch.cat([a.float(), b], 0)", { dtypes: ["float64"] }));
});
