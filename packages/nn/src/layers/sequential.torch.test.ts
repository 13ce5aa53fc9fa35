import { Generator, Tensor, noGrad, type DType } from "@pico/core";
import { RTOL, describeTorch, oracle, torchInput, expectTorchClose } from "@pico/torch-oracle";
import { it } from "vitest";
import type { IntPair } from "../functional/pair.js";
import { Conv2d } from "./conv2d.js";
import { MaxPool2d } from "./max-pool2d.js";
import { ReLU } from "./relu.js";
import { Sequential } from "./sequential.js";

// Sequential runs Conv2d → ReLU → MaxPool2d as one fused operator (and, under noGrad, other kernels):
// each case runs that chain in training (output, input, weight and bias gradients) and under noGrad
// (output), against torch's three modules.

interface Case {
  x: number[];
  outChannels: number;
  kernel: IntPair;
  stride?: IntPair;
  padding?: IntPair | "same";
  pool: IntPair;
  poolStride?: IntPair;
  poolPadding?: IntPair;
  bias?: boolean;
}

const cases: Case[] = [
  { x: [4, 1, 28, 28], outChannels: 8, kernel: 5, pool: 2 },
  { x: [4, 8, 12, 12], outChannels: 16, kernel: 5, pool: 2 },
  { x: [2, 3, 9, 9], outChannels: 4, kernel: 3, padding: 1, pool: 2 },
  { x: [2, 3, 9, 9], outChannels: 4, kernel: 3, padding: "same", pool: 3, poolStride: 2, poolPadding: 1 },
  { x: [2, 3, 11, 10], outChannels: 5, kernel: [3, 2], stride: 2, pool: 2, poolStride: 1 },
  { x: [2, 4, 8, 8], outChannels: 4, kernel: 1, pool: 2, bias: false },
  { x: [3, 8, 8], outChannels: 2, kernel: 3, pool: 2 },
];

const py = (v: IntPair | string): string => (typeof v === "string" ? `'${v}'` : typeof v === "number" ? String(v) : `(${v[0]}, ${v[1]})`);

async function runCase(c: Case, dtype: DType, training: boolean): Promise<void> {
  const gen = new Generator(5);
  const inC = c.x[c.x.length - 3]!;
  const conv = new Conv2d(inC, c.outChannels, c.kernel, { stride: c.stride, padding: c.padding, bias: c.bias, dtype, generator: gen });
  const pool = new MaxPool2d(c.pool, { stride: c.poolStride, padding: c.poolPadding });
  const seq = new Sequential(conv, new ReLU(), pool);
  const x = Tensor.randn(c.x, { dtype, generator: gen, requiresGrad: training });
  let y: Tensor;
  let up: Tensor | null = null;
  if (training) {
    y = seq.forward(x);
    up = Tensor.randn(y.shape, { dtype, generator: gen });
    y.backward(up);
  } else {
    y = noGrad(() => seq.forward(x));
  }
  const convArgs = [`${inC}, ${c.outChannels}, ${py(c.kernel)}`];
  if (c.stride !== undefined) convArgs.push(`stride=${py(c.stride)}`);
  if (c.padding !== undefined) convArgs.push(`padding=${py(c.padding)}`);
  if (c.bias === false) convArgs.push("bias=False");
  const poolArgs = [py(c.pool)];
  if (c.poolStride !== undefined) poolArgs.push(`stride=${py(c.poolStride)}`);
  if (c.poolPadding !== undefined) poolArgs.push(`padding=${py(c.poolPadding)}`);
  const r = await oracle().run({
    inputs: {
      x: torchInput(x, { requiresGrad: training }),
      w: torchInput(conv.weight, { requiresGrad: false }),
      b: c.bias === false ? null : torchInput(conv.bias!, { requiresGrad: false }),
      up: up === null ? null : torchInput(up),
    },
    code: `
m = nn.Sequential(nn.Conv2d(${convArgs.join(", ")}), nn.ReLU(), nn.MaxPool2d(${poolArgs.join(", ")})).to(x.dtype)
with torch.no_grad():
    m[0].weight.copy_(w)
    if b is not None:
        m[0].bias.copy_(b)
y = m(x)
if up is not None:
    y.backward(up)
gx = x.grad
gw = m[0].weight.grad
gb = m[0].bias.grad if b is not None else None`,
    outputs: ["y", "gx", "gw", "gb"],
  });
  const label = `Conv2d→ReLU→MaxPool2d ${JSON.stringify(c)} ${dtype} ${training ? "training" : "noGrad"}`;
  const rtol = RTOL[dtype];
  expectTorchClose(`${label} output`, y, r.tensor("y"), rtol);
  if (training) {
    expectTorchClose(`${label} input grad`, x.grad!, r.tensor("gx"), rtol);
    expectTorchClose(`${label} weight grad`, conv.weight.grad!, r.tensor("gw"), rtol);
    if (c.bias !== false) expectTorchClose(`${label} bias grad`, conv.bias!.grad!, r.tensor("gb"), rtol);
  }
}

describeTorch("Sequential's fused Conv2d → ReLU → MaxPool2d vs torch", () => {
  for (const c of cases) {
    for (const dtype of ["float64", "float32"] as const) {
      for (const training of [true, false]) {
        it(`${JSON.stringify(c).replace(/"/g, "")} ${dtype} ${training ? "training" : "noGrad"}`, () => runCase(c, dtype, training));
      }
    }
  }
});
