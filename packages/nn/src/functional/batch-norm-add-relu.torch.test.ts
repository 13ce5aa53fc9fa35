import type { Tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { batchNormAddRelu } from "./batch-norm-add-relu.js";

// F.batchNormAddRelu against torch's relu(batch_norm(a) + r): output and the gradients of a, r, weight and
// bias, with batch statistics (training) or given ones (eval).

const stat = { requiresGrad: false } as const;

describeTorch("F.batchNormAddRelu vs torch's F.relu(F.batch_norm(...) + r)", () => {
  for (const training of [true, false]) {
    const label = `x=[4,3,5,2] training=${training}`;
    const pico = (a: Tensor, r: Tensor, rm: Tensor, rv: Tensor, w: Tensor, b: Tensor): Tensor =>
      batchNormAddRelu(a, r, rm, rv, { weight: w, bias: b, training, momentum: 0.2, eps: 1e-3 });
    const torch = `F.relu(F.batch_norm(a, rm.clone(), rv.clone(), w, b, training=${training ? "True" : "False"}, momentum=0.2, eps=1e-3) + r)`;
    it(label, () =>
      compareWithTorch([[4, 3, 5, 2], [4, 3, 5, 2], [3], [3], [3], [3]], pico, torch, {
        label: `F.batchNormAddRelu ${label}`,
        names: ["a", "r", "rm", "rv", "w", "b"],
        inputs: [{}, {}, { ...stat }, { ...stat, low: 0.5, high: 2 }, { low: 0.5, high: 1.5 }, {}],
      }),
    );
  }
});
