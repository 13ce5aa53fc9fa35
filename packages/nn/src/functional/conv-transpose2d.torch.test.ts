import { Generator, type DType } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { ConvTranspose2d } from "../layers/conv-transpose2d.js";
import { convTranspose2d, type ConvTranspose2dOptions } from "./conv-transpose2d.js";

const cases: [number[], number[], ConvTranspose2dOptions, string][] = [
  [[2, 3, 5, 4], [3, 4, 3, 3], {}, ""],
  [[2, 3, 5, 4], [3, 2, 3, 3], { stride: 2 }, "stride=2"],
  [[1, 4, 4, 5], [4, 3, 4, 4], { stride: 2, padding: 1 }, "stride=2, padding=1"],
  [[2, 2, 3, 3], [2, 3, 3, 2], { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2] }, "stride=(2, 3), padding=(1, 0), output_padding=(1, 2)"],
  [[2, 4, 4, 4], [4, 3, 3, 3], { groups: 2, dilation: 2, padding: 2 }, "groups=2, dilation=2, padding=2"],
  [[2, 3, 6, 6], [3, 5, 1, 1], { stride: 2, outputPadding: 1 }, "stride=2, output_padding=1"],
  [[1, 6, 3, 3], [6, 1, 2, 2], { groups: 6, stride: 2 }, "groups=6, stride=2"],
];

describeTorch("convTranspose2d vs torch: output, input, weight and bias gradients", () => {
  for (const [x, w, options, torchArgs] of cases) {
    const bias = w[1]! * (options.groups ?? 1);
    const extra = torchArgs === "" ? "" : `, ${torchArgs}`;
    it(`x=${JSON.stringify(x)} w=${JSON.stringify(w)} ${torchArgs}`, () =>
      compareWithTorch([x, w, [bias]], (a, ww, b) => convTranspose2d(a, ww, b, options), `F.conv_transpose2d(a, b, c${extra})`));
  }
  it("without bias, non-contiguous input and weight", () =>
    compareWithTorch([[2, 3, 4, 5], [3, 2, 3, 2]], (a, ww) => convTranspose2d(a, ww, null, { stride: 2 }), "F.conv_transpose2d(a, b, stride=2)", { strided: true }));
  it("unbatched [C, H, W]", () => compareWithTorch([[3, 4, 4], [3, 2, 3, 3], [2]], (a, ww, b) => convTranspose2d(a, ww, b, { padding: 1 }), "F.conv_transpose2d(a, b, c, padding=1)"));
  for (const dtype of ["float64", "float32"] as DType[]) {
    it(`ConvTranspose2d(4, 6, 3, stride 2, padding 1, outputPadding 1) weight, bias and output size as torch (${dtype})`, async () => {
      const layer = new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, dtype, generator: new Generator(2) });
      expect(layer.weight.shape).toEqual([4, 6, 3, 3]);
      expect(layer.outputSize(7, 7)).toEqual([14, 14]);
      await compareWithTorch(
        [[2, 4, 7, 7], [4, 6, 3, 3], [6]],
        (a, ww, b) => {
          layer.weight.data = ww.data;
          layer.bias!.data = b.data;
          return layer.forward(a);
        },
        "m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1).to(a.dtype)\nwith torch.no_grad():\n    m.weight.copy_(b)\n    m.bias.copy_(c)\nout = m(a)",
        { dtypes: [dtype], grad: false },
      );
    });
  }
});
