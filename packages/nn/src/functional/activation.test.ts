import { gradcheck } from "@pico/core";
import { describe, expect, it } from "vitest";
import { randn } from "../test-utils/tensors.js";
import { logSoftmax, relu, sigmoid, softmax, tanh } from "./activation.js";
import { flatten } from "./flatten.js";

describe("activation functions and flatten", () => {
  const x = (): ReturnType<typeof randn> => randn([3, 1, 7], 1, { requiresGrad: true, scale: 2 });

  it("gradcheck relu, sigmoid and tanh on x=[3,1,7]", () => {
    expect(gradcheck((a) => relu(a), [x()])).toBe(true);
    expect(gradcheck((a) => sigmoid(a), [x()])).toBe(true);
    expect(gradcheck((a) => tanh(a), [x()])).toBe(true);
  });

  it("gradcheck softmax and logSoftmax along the first and the last axis", () => {
    expect(gradcheck((a) => softmax(a, 0), [x()])).toBe(true);
    expect(gradcheck((a) => logSoftmax(a, -1), [x()])).toBe(true);
  });

  it("gradcheck flatten of a transposed input", () => {
    const y = flatten(randn([2, 3, 4], 2).transpose(0, 2), 1);
    expect(y.shape).toEqual([4, 6]);
    expect(gradcheck((a) => flatten(a.transpose(0, 2)), [randn([2, 3, 4], 3, { requiresGrad: true })])).toBe(true);
  });
});
