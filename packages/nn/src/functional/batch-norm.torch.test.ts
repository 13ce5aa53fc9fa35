import type { Tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { batchNorm } from "./batch-norm.js";

// F.batchNorm on its own (the layers' running-statistics updates are in layers/batch-norm.torch.test.ts):
// output and the gradients of input, weight and bias, with batch statistics (training) or given ones (eval).

const stat = { requiresGrad: false } as const;

describeTorch("F.batchNorm vs torch's F.batch_norm", () => {
  for (const x of [[6, 3], [4, 3, 5], [3, 3, 4, 2]]) {
    for (const training of [true, false]) {
      for (const affine of [true, false]) {
        const label = `x=${JSON.stringify(x)} training=${training} affine=${affine}`;
        const shapes = affine ? [x, [3], [3], [3], [3]] : [x, [3], [3]];
        const pico = (a: Tensor, rm: Tensor, rv: Tensor, w?: Tensor, b?: Tensor): Tensor =>
          batchNorm(a, rm, rv, { weight: w ?? null, bias: b ?? null, training, momentum: 0.2, eps: 1e-3 });
        const torch = `F.batch_norm(a, rm.clone(), rv.clone(), ${affine ? "w, b" : "None, None"}, training=${training ? "True" : "False"}, momentum=0.2, eps=1e-3)`;
        it(label, () =>
          compareWithTorch(shapes, pico, torch, {
            label: `F.batchNorm ${label}`,
            names: ["a", "rm", "rv", "w", "b"].slice(0, shapes.length),
            inputs: [{}, { ...stat }, { ...stat, low: 0.5, high: 2 }, { low: 0.5, high: 1.5 }, {}],
          }),
        );
      }
    }
  }
  it("without running statistics, training", () =>
    compareWithTorch([[5, 4, 3], [4], [4]], (a, w, b) => batchNorm(a, null, null, { weight: w, bias: b, training: true }), "F.batch_norm(a, None, None, b, c, training=True)", {
      label: "F.batchNorm no running stats",
    }));
});
