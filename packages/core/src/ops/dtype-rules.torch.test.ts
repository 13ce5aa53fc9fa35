import { describeTorch, oracle, torchInput } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { ArgumentError } from "../errors.js";
import { Tensor } from "../tensor.js";

// Mixed float32 / float64 operands: elementwise operators promote to float64 and matrix products refuse,
// each exactly as torch 1.13 does (it raises "expected scalar type Float but found Double" for matmul).

type Case = [label: string, shapes: [number[], number[], number[]?], pico: (a: Tensor, b: Tensor, c: Tensor) => Tensor, torch: string, refused: string | null];

const CASES: Case[] = [
  ["matmul 2-D", [[2, 3], [3, 4]], (a, b) => a.matmul(b), "a @ b", "matmul: other must have the input's dtype"],
  ["matmul batched, broadcast", [[2, 2, 3], [3, 4]], (a, b) => a.matmul(b), "a @ b", "matmul: other must have the input's dtype"],
  ["matmul 1-D · 1-D", [[3], [3]], (a, b) => a.matmul(b), "a @ b", "matmul: other must have the input's dtype"],
  ["matmul 1-D · 2-D", [[3], [3, 2]], (a, b) => a.matmul(b), "a @ b", "matmul: other must have the input's dtype"],
  ["addmm, mat2 differs", [[2, 4], [2, 3], [3, 4]], (c, a, b) => c.addmm(a, b.to(c.dtype === "float32" ? "float64" : "float32")), "torch.addmm(a, b, c.to(torch.float64 if a.dtype == torch.float32 else torch.float32))", "addmm: mat2 must have the input's dtype"],
  ["mul promotes", [[2, 3], [3]], (a, b) => a.mul(b), "a * b", null],
  ["add promotes", [[2, 3], [2, 3]], (a, b) => a.add(b), "a + b", null],
];

describeTorch("mixed dtypes vs torch: elementwise promotes, matrix products refuse", () => {
  for (const [label, shapes, pico, torch, refused] of CASES) {
    for (const [da, db] of [["float32", "float64"], ["float64", "float32"]] as const) {
      it(`${label}: ${da} with ${db}`, async () => {
        const three = shapes[2] !== undefined;
        // addmm's operands all share the input's dtype except the one the case converts.
        const dtypes = three ? [da, da, da] : [da, db];
        const ts = shapes.filter((s): s is number[] => s !== undefined).map((s, i) => Tensor.rand(s, { dtype: dtypes[i]! }));
        const names = ["a", "b", "c"];
        const r = await oracle().run({
          inputs: Object.fromEntries(ts.map((t, i) => [names[i]!, torchInput(t, { requiresGrad: false })])),
          code: `
try:
    out = str((${torch}).dtype).replace("torch.", "")
except RuntimeError as e:
    out = "raised: " + str(e)`,
        });
        const torchSays = r.values.out as string;
        if (refused === null) {
          expect(torchSays).toBe("float64");
          expect(pico(ts[0]!, ts[1]!, ts[2]!).dtype).toBe("float64");
        } else {
          expect(torchSays).toMatch(/^raised: (expected scalar type|self and mat2 must have the same dtype|dot : expected both vectors)/);
          expect(() => pico(ts[0]!, ts[1]!, ts[2]!)).toThrow(ArgumentError);
          expect(() => pico(ts[0]!, ts[1]!, ts[2]!)).toThrow(refused);
        }
      });
    }
  }

  it("the refusal names the operator, the argument, the rule and what it got", () => {
    const a = Tensor.rand([2, 3]);
    expect(() => a.matmul(Tensor.rand([3, 2], { dtype: "float64" }))).toThrow(
      'matmul: other must have the input\'s dtype, float32 (matrix products do not promote dtypes, as in PyTorch; convert one with .to("float32") or .to("float64")), but got float64',
    );
  });
});
