import { Generator, Tensor, type DType } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Conv2d, type Conv2dPaddingMode } from "../layers/conv2d.js";
import { pad, type PadMode } from "./pad.js";

const cases: [number[], number[], PadMode][] = [
  [[2, 3, 5, 6], [1, 2, 2, 1], "reflect"],
  [[2, 3, 5, 6], [2, 0, 0, 3], "replicate"],
  [[2, 3, 5, 6], [3, 1, 2, 5], "circular"],
  [[3, 4, 5], [2, 2, 1, 3], "reflect"],
  [[2, 4, 7], [3, 1], "reflect"],
  [[2, 4, 7], [0, 4], "replicate"],
  [[2, 4, 7], [7, 2], "circular"],
  [[3, 5, 6], [1, 2], "replicate"],
  [[2, 3, 5, 6], [1, 2, 0, 1], "constant"],
];

// torch 1.13 pads one axis in a non-constant mode only for 2-D and 3-D input; Pico also pads a 4-D
// input's last axis (the same index rule), which torch cannot be asked for.
describeTorch("F.pad vs torch", () => {
  for (const [x, padding, mode] of cases) {
    it(`x=${JSON.stringify(x)} pad=${JSON.stringify(padding)} ${mode}`, () =>
      compareWithTorch([x], (a) => pad(a, padding, { mode }), `F.pad(a, (${padding.join(", ")}), mode='${mode}')`));
  }
  it("constant with a value, non-contiguous input", () =>
    compareWithTorch([[2, 3, 4]], (a) => pad(a, [1, 1, 2, 0, 1, 1], { value: -1.5 }), "F.pad(a, (1, 1, 2, 0, 1, 1), value=-1.5)", { strided: true }));
  it("reflect refuses a pad as large as its axis, as torch", () => {
    expect(() => pad(Tensor.zeros([1, 1, 3, 3]), [3, 0, 0, 0], { mode: "reflect" })).toThrow(
      'pad: mode "reflect" needs each pad smaller than its axis, but got [3, 0] for an axis of size 3 (input [1, 1, 3, 3])',
    );
    expect(() => pad(Tensor.zeros([1, 1, 3, 3]), [1, 1, 1, 1, 1, 1], { mode: "replicate" })).toThrow('pad: mode "replicate" pads the last one or two axes');
    expect(() => pad(Tensor.zeros([3]), [1, 1], { mode: "wrap" as PadMode })).toThrow('pad: mode must be "constant", "reflect", "replicate" or "circular", but got "wrap"');
  });
});

describeTorch("Conv2d paddingMode vs torch.nn.Conv2d(padding_mode=...)", () => {
  const layers: [Conv2dPaddingMode, number | "same", number, number][] = [
    ["reflect", 1, 3, 1],
    ["replicate", 2, 5, 1],
    ["circular", 1, 3, 2],
    ["reflect", "same", 4, 1],
    ["circular", "same", 3, 2],
    ["zeros", "same", 4, 1],
  ];
  for (const [mode, padding, kernel, dilation] of layers) {
    for (const dtype of ["float64", "float32"] as DType[]) {
      it(`${mode} padding=${padding} kernel=${kernel} dilation=${dilation} ${dtype}: output and input gradient`, async () => {
        const conv = new Conv2d(3, 4, kernel, { padding, paddingMode: mode, dilation, dtype, generator: new Generator(3) });
        const w = conv.weight;
        const b = conv.bias!;
        await compareWithTorch(
          [[2, 3, 8, 9], w.shape, b.shape],
          (x, ww, bb) => {
            conv.weight.data = ww.data;
            conv.bias!.data = bb.data;
            const y = conv.forward(x);
            return y;
          },
          `m = nn.Conv2d(3, 4, ${kernel}, padding=${typeof padding === "number" ? padding : "'same'"}, padding_mode='${mode}', dilation=${dilation}).to(a.dtype)
with torch.no_grad():
    m.weight.copy_(b)
    m.bias.copy_(c)
out = m(a)`,
          { dtypes: [dtype], inputs: [{}, { requiresGrad: false }, { requiresGrad: false }], label: `Conv2d paddingMode ${mode} padding ${padding}` },
        );
      });
    }
  }
  it("is refused where torch refuses it, and prints", () => {
    expect(() => new Conv2d(1, 1, 3, { paddingMode: "mirror" as Conv2dPaddingMode })).toThrow('Conv2d: paddingMode must be "zeros", "reflect", "replicate" or "circular", but got "mirror"');
    expect(new Conv2d(1, 2, 3, { padding: 1, paddingMode: "reflect" }).toString()).toBe("Conv2d(1, 2, kernelSize=(3, 3), stride=(1, 1), padding=(1, 1), paddingMode=reflect)");
  });
});
