import { Generator, type Tensor } from "@pico/core";
import { compareWithTorch, describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { conv2d } from "./conv2d.js";

// A NaN or an infinity in a convolution's operands reaches exactly the outputs and gradients it reaches in
// torch's direct sum, also for the geometries whose float32 kernel is Winograd's F(4×4, 3×3) (3×3, stride 1,
// >= 16 channels), whose tile transforms would spread it over a whole tile.

function values(size: number, special: number, at: readonly number[]): number[] {
  const gen = new Generator(9);
  const v = Array.from({ length: size }, () => gen.random() * 4 - 2);
  for (const i of at) v[i] = special;
  return v;
}

const CASES = [
  { label: "Winograd F(4x4, 3x3)", x: [2, 16, 10, 10], w: [16, 16, 3, 3], padding: 1 },
  { label: "im2col + GEMM", x: [2, 3, 10, 10], w: [4, 3, 3, 3], padding: 1 },
];

describeTorch("conv2d with NaN and infinities vs torch", () => {
  for (const c of CASES) {
    const size = c.x.reduce((a, b) => a * b, 1);
    for (const [name, special] of [["NaN", Number.NaN], ["+Infinity", Number.POSITIVE_INFINITY], ["-Infinity", Number.NEGATIVE_INFINITY]] as const) {
      it(`${c.label}: ${name} pixels in the input`, () =>
        compareWithTorch([c.x, c.w, [c.w[0]!]], (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b, { padding: c.padding }), `F.conv2d(a, b, c, padding=${c.padding})`, {
          inputs: [{ values: values(size, special, [37, size - 250]) }],
          label: `conv2d ${c.label} ${name} input`,
        }));
    }
    // A NaN weight times the zero padding is NaN, as in torch's float64 convolution and in its float32 one on
    // an explicitly padded input; torch 1.13's float32 convolution with `padding` (oneDNN) skips the padded taps
    // and leaves those outputs finite: its own inconsistency (README, "Tested against PyTorch"), pinned here.
    const nanWeight = { values: values(c.w.reduce((a, b) => a * b, 1), Number.NaN, [5]) };
    const conv = (x: Tensor, w: Tensor, b: Tensor): Tensor => conv2d(x, w, b, { padding: c.padding });
    it(`${c.label}: a NaN weight, float64`, () =>
      compareWithTorch([c.x, c.w, [c.w[0]!]], conv, `F.conv2d(a, b, c, padding=${c.padding})`, { inputs: [undefined, nanWeight], dtypes: ["float64"], label: `conv2d ${c.label} NaN weight` }));
    it(`${c.label}: a NaN weight, float32 (torch's explicitly padded input)`, () =>
      compareWithTorch([c.x, c.w, [c.w[0]!]], conv, `F.conv2d(F.pad(a, (1, 1, 1, 1)), b, c)`, { inputs: [undefined, nanWeight], dtypes: ["float32"], label: `conv2d ${c.label} NaN weight, explicit pad` }));
    it(`${c.label}: torch's float32 convolution with padding leaves the padded taps' outputs finite`, async () => {
      const r = await oracle().run({
        inputs: { w: nanWeight.values },
        code: `
w = torch.tensor(w).reshape(${c.w.join(", ")})
x = torch.rand(${c.x.join(", ")})
out = [torch.isnan(F.conv2d(x, w, padding=1)).sum().item(), torch.isnan(F.conv2d(x.double(), w.double(), padding=1)).sum().item()]`,
      });
      const [f32, f64] = r.values.out as [number, number];
      expect(f64).toBe(c.x[0]! * c.x[2]! * c.x[3]!);
      expect(f32).toBeLessThan(f64);
    });
  }
});
