import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { Tensor, tensor } from "../tensor.js";

const TIES = { choices: [-1, 0, 1, Number.NaN] };

describeTorch("comparisons, argmax and casts vs torch", () => {
  for (const [name, torch] of [
    ["eq", "a == b"],
    ["gt", "a > b"],
    ["lt", "a < b"],
  ] as const) {
    it(`${name} with ties and NaN`, () => compareWithTorch([[4, 5], [4, 5]], (a, b) => a[name](b), torch, { ...TIES, label: name }));
    it(`${name} broadcast both ways`, () => compareWithTorch([[4, 1], [5]], (a, b) => a[name](b), torch, { ...TIES, label: `${name} broadcast` }));
    it(`${name} with a number`, () => compareWithTorch([[4, 5]], (a) => a[name](0), `${torch.replace("b", "0")}`, { ...TIES, label: `${name} number` }));
  }
  it.each([
    [undefined, false, "a.argmax()"],
    [0, false, "a.argmax(0)"],
    [1, true, "a.argmax(1, keepdim=True)"],
    [-1, false, "a.argmax(-1)"],
  ] as const)("argmax axis=%s keepDims=%s with ties", (axis, keep, torch) =>
    compareWithTorch([[4, 5]], (a) => a.argmax(axis, keep), torch, { choices: [0, 1, 2], label: `argmax ${axis} ${keep}` }));
  it("argmax of a strided input", () => compareWithTorch([[3, 4, 5]], (a) => a.argmax(1), "a.argmax(1)", { strided: true }));

  it("to float32 and back", async () => {
    await compareWithTorch([[3, 4]], (a) => a.to("float32"), "a.float()", { dtypes: ["float64"] });
    await compareWithTorch([[3, 4]], (a) => a.to("float64"), "a.double()", { dtypes: ["float32"] });
    await compareWithTorch([[3, 4]], (a) => a.to("float32").mul(a.to("float32")), "a.float() * a.float()", { dtypes: ["float64"] });
  });
  it("detach stops the gradient", () => compareWithTorch([[3, 4]], (a) => a.detach().mul(a), "a.detach() * a"));

  it("factories match torch's", async () => {
    await compareWithTorch([], () => Tensor.arange(5), "torch.arange(5).float()", { dtypes: ["float32"], grad: false });
    await compareWithTorch([], () => Tensor.arange(1, 2, 0.25, { dtype: "float64" }), "torch.arange(1, 2, 0.25, dtype=torch.float64)", { dtypes: ["float64"], grad: false });
    await compareWithTorch([], () => Tensor.arange(5, 0, -2), "torch.arange(5, 0, -2).float()", { dtypes: ["float32"], grad: false });
    await compareWithTorch([], () => Tensor.full([2, 3], 1.5), "torch.full((2, 3), 1.5)", { dtypes: ["float32"], grad: false });
    await compareWithTorch([], () => Tensor.ones([2]).add(Tensor.zeros([3, 1])), "torch.ones(2) + torch.zeros(3, 1)", { dtypes: ["float32"], grad: false });
    await compareWithTorch([], () => tensor([[1, 2], [3, 4]]), "torch.tensor([[1., 2.], [3., 4.]])", { dtypes: ["float32"], grad: false });
  });
});
