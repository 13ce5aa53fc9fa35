import { Tensor, gradcheck, noGrad, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Conv2d } from "../layers/conv2d.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { randn, values } from "../test-utils/tensors.js";
import { pad } from "./pad.js";

describe("pad", () => {
  const row = tensor([1, 2, 3], { dtype: "float64" });
  it("reflect, replicate and circular on [1, 2, 3] by [2, 1]", () => {
    expect(values(pad(row, [2, 1], { mode: "reflect" }))).toEqual([3, 2, 1, 2, 3, 2]);
    expect(values(pad(row, [2, 1], { mode: "replicate" }))).toEqual([1, 1, 1, 2, 3, 3]);
    expect(values(pad(row, [2, 1], { mode: "circular" }))).toEqual([2, 3, 1, 2, 3, 1]);
    expect(values(pad(row, [1, 1], { value: 9 }))).toEqual([9, 1, 2, 3, 9]);
  });

  it("pads the last axis of a 4-D input (which torch 1.13 only does for 2-D and 3-D) by the same rule", () => {
    const x = randn([2, 3, 4, 5], 1);
    const y = pad(x, [2, 1], { mode: "reflect" });
    expect(y.shape).toEqual([2, 3, 4, 8]);
    const [xv, yv] = [values(x), values(y)];
    for (let r = 0; r < 24; r++) expect(yv.slice(r * 8, r * 8 + 8)).toEqual([2, 1, 0, 1, 2, 3, 4, 3].map((i) => xv[r * 5 + i]));
  });

  it("gradients add up where the padding copies an element (gradcheck, every mode)", () => {
    for (const mode of ["reflect", "replicate", "circular"] as const) {
      expect(gradcheck((a) => pad(a, [2, 1, 1, 2], { mode }), [randn([2, 2, 3, 4], 2, { requiresGrad: true })])).toBe(true);
    }
  });

  it("a Conv2d with a paddingMode is not fused in a Sequential: same output and gradients as the modules one by one", () => {
    const conv = new Conv2d(2, 3, 3, { padding: 1, paddingMode: "reflect", dtype: "float64" });
    const seq = new Sequential(conv, new ReLU(), new MaxPool2d(2));
    const x = randn([2, 2, 6, 6], 3, { requiresGrad: true });
    const y = seq.forward(x);
    const expected = noGrad(() => new MaxPool2d(2).forward(new ReLU().forward(conv.forward(x))));
    expect(values(y)).toEqual(values(expected));
    const inference = noGrad(() => seq.forward(x));
    expect(values(inference)).toEqual(values(expected));
    expect(() => pad(Tensor.zeros([2]), [1], { mode: "reflect" })).toThrow("pad: padding must be pairs [before, after] of non-negative integers");
  });
});
