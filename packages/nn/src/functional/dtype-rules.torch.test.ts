import { ArgumentError, Tensor, type DType } from "@pico/core";
import { describeTorch, oracle, torchInput } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { conv1d } from "./conv1d.js";
import { conv2d } from "./conv2d.js";
import { conv2dReluMaxPool2d } from "./conv2d-relu-max-pool2d.js";
import { convTranspose2d } from "./conv-transpose2d.js";
import { linear } from "./linear.js";

// A weight or bias of another dtype than the input: torch 1.13 refuses ("expected scalar type Float but
// found Double", "Input type (float) and bias type (double) should be the same"), and so does Pico, naming
// the operator, the argument, the rule and the dtype it got.

type Case = [label: string, shapes: [number[], number[], number[]], pico: (x: Tensor, w: Tensor, b: Tensor) => Tensor, torch: string];

const CASES: Case[] = [
  ["linear", [[4, 3], [2, 3], [2]], (x, w, b) => linear(x, w, b), "F.linear(x, w, b)"],
  ["linear, 3-D input", [[2, 4, 3], [2, 3], [2]], (x, w, b) => linear(x, w, b), "F.linear(x, w, b)"],
  ["conv2d", [[1, 2, 5, 5], [3, 2, 3, 3], [3]], (x, w, b) => conv2d(x, w, b), "F.conv2d(x, w, b)"],
  ["conv1d", [[1, 2, 7], [3, 2, 3], [3]], (x, w, b) => conv1d(x, w, b), "F.conv1d(x, w, b)"],
  ["convTranspose2d", [[1, 2, 4, 4], [2, 3, 3, 3], [3]], (x, w, b) => convTranspose2d(x, w, b), "F.conv_transpose2d(x, w, b)"],
  ["conv2dReluMaxPool2d", [[1, 2, 6, 6], [4, 2, 3, 3], [4]], (x, w, b) => conv2dReluMaxPool2d(x, w, b, {}, 2), "F.max_pool2d(F.relu(F.conv2d(x, w, b)), 2)"],
];

const other = (d: DType): DType => (d === "float32" ? "float64" : "float32");

describeTorch("weights and biases of another dtype than the input vs torch: refused", () => {
  for (const [label, shapes, pico, torch] of CASES) {
    for (const odd of ["weight", "bias"] as const) {
      it(`${label}: float32 input, float64 ${odd}`, async () => {
        const dtypes: DType[] = ["float32", odd === "weight" ? "float64" : "float32", odd === "bias" ? "float64" : "float32"];
        const [x, w, b] = shapes.map((s, i) => Tensor.rand(s, { dtype: dtypes[i]! })) as [Tensor, Tensor, Tensor];
        const r = await oracle().run({
          inputs: { x: torchInput(x, { requiresGrad: false }), w: torchInput(w, { requiresGrad: false }), b: torchInput(b, { requiresGrad: false }) },
          code: `
try:
    ${torch}
    out = ""
except RuntimeError as e:
    out = str(e)`,
        });
        if (label === "conv1d" && odd === "bias") {
          // torch's own inconsistency (README, "Tested against PyTorch"): conv1d casts a float64 bias to a
          // float32 input's dtype where conv2d refuses it; Pico refuses both alike.
          expect(r.values.out).toBe("");
        } else {
          expect(r.values.out as string).toMatch(/expected scalar type|should be the same|must have the same dtype/);
        }
        const message = `${label === "linear, 3-D input" ? "linear" : label}: ${odd} must have the input's dtype, float32`;
        expect(() => pico(x, w, b)).toThrow(ArgumentError);
        expect(() => pico(x, w, b)).toThrow(message);
        // The same operands in one dtype run.
        expect(pico(x, w.to(other(w.dtype)).to("float32"), b.to("float32")).dtype).toBe("float32");
      });
    }
  }
});
