import { Tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Conv2d } from "../layers/conv2d.js";
import { conv2d } from "./conv2d.js";
import type { IntPair } from "./pair.js";

interface Case {
  x: number[];
  w: number[];
  bias?: boolean;
  stride?: IntPair;
  padding?: IntPair | "same" | "valid";
  dilation?: IntPair;
  groups?: number;
  strided?: boolean;
}

const py = (v: IntPair | string): string => (typeof v === "string" ? `'${v}'` : typeof v === "number" ? String(v) : `(${v[0]}, ${v[1]})`);

const cases: Case[] = [
  { x: [2, 3, 8, 8], w: [4, 3, 3, 3] },
  { x: [2, 3, 8, 8], w: [4, 3, 3, 3], bias: false },
  { x: [2, 3, 9, 8], w: [4, 3, 3, 3], stride: 2 },
  { x: [2, 3, 9, 8], w: [4, 3, 3, 3], stride: [2, 3] },
  { x: [2, 3, 7, 8], w: [4, 3, 3, 3], padding: 1 },
  { x: [2, 3, 7, 8], w: [4, 3, 3, 3], padding: [2, 0] },
  { x: [1, 2, 10, 9], w: [3, 2, 3, 3], dilation: 2 },
  { x: [1, 2, 10, 9], w: [3, 2, 3, 2], dilation: [2, 3], padding: [1, 2], stride: [1, 2] },
  { x: [2, 4, 7, 7], w: [6, 2, 3, 3], groups: 2 },
  { x: [2, 6, 7, 7], w: [6, 2, 3, 3], groups: 3, stride: 2, padding: 1 },
  // depthwise (groups = channels), and a depthwise multiplier of 2
  { x: [2, 4, 8, 8], w: [4, 1, 3, 3], groups: 4, padding: 1 },
  { x: [2, 4, 8, 8], w: [8, 1, 5, 5], groups: 4, padding: 2 },
  // 1×1 (pointwise)
  { x: [2, 5, 6, 6], w: [3, 5, 1, 1] },
  { x: [2, 5, 6, 6], w: [3, 5, 1, 1], stride: 2 },
  { x: [2, 4, 6, 6], w: [4, 2, 1, 1], groups: 2 },
  // non-square kernels and inputs
  { x: [2, 3, 9, 6], w: [2, 3, 5, 2] },
  { x: [1, 3, 6, 11], w: [2, 3, 1, 4], padding: [0, 2], stride: [1, 3] },
  // the reference network's shapes
  { x: [4, 1, 28, 28], w: [8, 1, 5, 5] },
  { x: [4, 8, 12, 12], w: [16, 8, 5, 5] },
  // unbatched input, a non-contiguous input
  { x: [3, 7, 7], w: [2, 3, 3, 3], padding: 1 },
  { x: [2, 3, 6, 7], w: [4, 3, 3, 2], strided: true },
  // "same" and "valid"
  { x: [2, 3, 7, 8], w: [4, 3, 3, 3], padding: "same" },
  { x: [2, 3, 7, 8], w: [4, 3, 4, 2], padding: "same" },
  { x: [2, 3, 7, 8], w: [4, 3, 4, 3], padding: "same", dilation: [1, 2] },
  { x: [2, 3, 9, 8], w: [4, 3, 3, 3], padding: "same", dilation: 3 },
  { x: [2, 4, 6, 6], w: [4, 2, 2, 2], padding: "same", groups: 2 },
  { x: [2, 3, 7, 8], w: [4, 3, 3, 3], padding: "valid" },
];

function torchCode(c: Case): string {
  const args = ["a", "b", c.bias === false ? "None" : "c"];
  if (c.stride !== undefined) args.push(`stride=${py(c.stride)}`);
  if (c.padding !== undefined) args.push(`padding=${py(c.padding)}`);
  if (c.dilation !== undefined) args.push(`dilation=${py(c.dilation)}`);
  if (c.groups !== undefined) args.push(`groups=${c.groups}`);
  return `F.conv2d(${args.join(", ")})`;
}

describeTorch("conv2d vs torch: output, input, weight and bias gradients", () => {
  for (const c of cases) {
    const { x, w, bias, strided, ...options } = c;
    const shapes = bias === false ? [x, w] : [x, w, [w[0]!]];
    const pico = (a: Tensor, b: Tensor, bb?: Tensor): Tensor => conv2d(a, b, bb ?? null, options);
    it(JSON.stringify(c).replace(/"/g, ""), () => compareWithTorch(shapes, pico, torchCode(c), { inputs: [{ strided }] }));
  }

  it("the Conv2d layer's weight, bias and output, padding same with an even dilated kernel", async () => {
    for (const dtype of ["float64", "float32"] as const) {
      const layer = new Conv2d(3, 4, [4, 2], { padding: "same", dilation: [1, 3], dtype });
      const w = layer.weight;
      const b = layer.bias!;
      // The layer's own parameters are the inputs on the Pico side; torch gets their values.
      await compareWithTorch(
        [[2, 3, 7, 8], w.shape, b.shape],
        (a, ww, bb) => {
          layer.weight.data = ww.data;
          layer.bias!.data = bb.data;
          const y = layer.forward(a);
          return y;
        },
        "m = nn.Conv2d(3, 4, (4, 2), padding='same', dilation=(1, 3)).to(a.dtype)\nwith torch.no_grad():\n    m.weight.copy_(b)\n    m.bias.copy_(c)\nout = m(a)",
        { dtypes: [dtype], grad: false },
      );
    }
  });

  it("refuses padding same with a stride, as torch", () => {
    expect(() => conv2d(Tensor.zeros([1, 1, 5, 5]), Tensor.zeros([1, 1, 3, 3]), null, { padding: "same", stride: 2 })).toThrow(
      'conv2d: padding "same" needs stride 1 (a strided output cannot keep the input\'s size), but got stride [2, 2]',
    );
    expect(() => conv2d(Tensor.zeros([1, 1, 5, 5]), Tensor.zeros([1, 1, 3, 3]), null, { paddingMode: "reflect" } as unknown as { groups: number })).toThrow(
      'conv2d: unknown option "paddingMode"; the options are stride, padding, dilation, groups',
    );
    expect(() => new Conv2d(1, 1, 3, { padding_mode: "reflect" } as unknown as { groups: number })).toThrow('Conv2d: unknown option "padding_mode"');
  });
});
