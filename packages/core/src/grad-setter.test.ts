import { describe, expect, it } from "vitest";
import { ArgumentError } from "./errors.js";
import { Tensor, tensor } from "./tensor.js";

// Tensor.grad's setter takes null or a Tensor of the tensor's shape and dtype, as PyTorch's does ("assigned
// grad has data of a different size", "assigned grad expected to be a Tensor or None"); anything else is
// refused at the assignment with the old .grad left as it was, not later in backward or an optimizer. Nor
// may it be the tensor itself or a view of its memory ("can't assign Variable as its own grad"): backward
// would add into the tensor's values.

/** p = [[1, 2], [3, 4]] with .grad [[10, 20], [30, 40]]. */
function withGrad(): Tensor {
  const p = tensor([[1, 2], [3, 4]], { requiresGrad: true });
  p.grad = tensor([[10, 20], [30, 40]]);
  return p;
}

const refused: Array<[string, (p: Tensor) => unknown, string]> = [
  ["a tensor of another shape", () => Tensor.zeros([3]), "the tensor's shape [2, 2], but got shape [3]"],
  ["a larger tensor", () => Tensor.zeros([4, 4]), "the tensor's shape [2, 2], but got shape [4, 4]"],
  ["as many elements in another shape", () => Tensor.zeros([2, 2]).reshape([4, 1]), "the tensor's shape [2, 2], but got shape [4, 1]"],
  ["float64 on a float32 tensor", () => Tensor.zeros([2, 2], { dtype: "float64" }), "the tensor's dtype float32, but got float64"],
  ["undefined", () => undefined, "a Tensor or null, but got undefined"],
  ["a number", () => 5, "a Tensor or null, but got number 5"],
  ["an ndarray", () => Tensor.zeros([2, 2]).data, "a Tensor or null, but got an ndarray of shape [2, 2]"],
  ["a plain object shaped like a tensor", () => ({ shape: [2, 2], data: Tensor.zeros([2, 2]).data }), "a Tensor or null, but got Object"],
  ["the tensor itself", (p) => p, "not be the tensor itself or share its memory, but got the tensor itself"],
  ["a reshaped view of the tensor", (p) => p.reshape([4]).reshape([2, 2]), "share its memory, but got a tensor over the same memory"],
  ["the tensor detached", (p) => p.detach(), "share its memory, but got a tensor over the same memory"],
];

describe("Tensor.grad's setter", () => {
  for (const [what, value, received] of refused) {
    it(`refuses ${what} with an ArgumentError naming Tensor.grad, and keeps the old .grad`, () => {
      const p = withGrad();
      const before = p.grad;
      let error: unknown = null;
      try {
        p.grad = value(p) as Tensor;
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ArgumentError);
      expect((error as Error).message).toContain("Tensor.grad: the assigned gradient must");
      expect((error as Error).message).toContain(received);
      expect(p.grad).toBe(before);
      // The next backward adds into the old .grad: d(sum(p²))/dp = 2p.
      p.mul(p).sum().backward();
      expect(p.grad!.toArray()).toEqual([[12, 24], [36, 48]]);
      expect(p.toArray()).toEqual([[1, 2], [3, 4]]);
    });
  }

  it("takes null, and a tensor of the same shape and dtype, which backward then adds into", () => {
    const p = withGrad();
    p.grad = null;
    expect(p.grad).toBeNull();
    const q = tensor([[1, 2], [3, 4]], { dtype: "float64", requiresGrad: true });
    q.grad = tensor([[1, 1], [1, 1]], { dtype: "float64" });
    q.mul(q).sum().backward();
    expect(q.grad!.toArray()).toEqual([[3, 5], [7, 9]]);
  });
});
