import type { Tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";
import { conv2dReluMaxPool2d } from "./conv2d-relu-max-pool2d.js";

// F.conv2dReluMaxPool2d, the fused operator itself, against torch's three functions (Sequential's
// use of it is in layers/sequential.torch.test.ts). Inputs avoid convolution outputs at exactly 0 only
// by chance; ties of the max are left to the seeded draws.

const cases: { x: number[]; w: number[]; conv: object; k: number; pool: object; torchConv: string; torchPool: string }[] = [
  { x: [2, 1, 12, 12], w: [4, 1, 5, 5], conv: {}, k: 2, pool: {}, torchConv: "", torchPool: "2" },
  { x: [2, 3, 9, 9], w: [4, 3, 3, 3], conv: { padding: 1 }, k: 2, pool: {}, torchConv: ", padding=1", torchPool: "2" },
  { x: [2, 4, 10, 9], w: [6, 2, 3, 2], conv: { stride: [2, 1], groups: 2 }, k: 3, pool: { stride: 1, padding: 1 }, torchConv: ", stride=(2, 1), groups=2", torchPool: "3, stride=1, padding=1" },
  { x: [1, 2, 11, 11], w: [3, 2, 3, 3], conv: { dilation: 2 }, k: 2, pool: { stride: 2 }, torchConv: ", dilation=2", torchPool: "2, stride=2" },
  { x: [3, 7, 7], w: [2, 3, 3, 3], conv: { padding: 1 }, k: 2, pool: {}, torchConv: ", padding=1", torchPool: "2" },
];

describeTorch("F.conv2dReluMaxPool2d vs max_pool2d(relu(conv2d))", () => {
  for (const c of cases) {
    it(JSON.stringify({ x: c.x, w: c.w, conv: c.conv, k: c.k, pool: c.pool }).replace(/"/g, ""), () =>
      compareWithTorch(
        [c.x, c.w, [c.w[0]!]],
        (a: Tensor, w: Tensor, b: Tensor) => conv2dReluMaxPool2d(a, w, b, c.conv, c.k, c.pool),
        `F.max_pool2d(F.relu(F.conv2d(a, b, c${c.torchConv})), ${c.torchPool})`,
      ),
    );
  }
});
