import { Generator, Tensor, type DType } from "@pico/core";
import { RTOL, describeTorch, oracle, torchInput, expectTorchClose } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import type { BatchNormLayerOptions } from "./batch-norm.js";
import { BatchNorm1d } from "./batch-norm1d.js";
import { BatchNorm2d } from "./batch-norm2d.js";

interface Case {
  layer: "BatchNorm1d" | "BatchNorm2d";
  shape: number[];
  options: BatchNormLayerOptions;
}

const STEPS = 4;

const cases: Case[] = [];
for (const [layer, shape] of [
  ["BatchNorm2d", [4, 3, 5, 4]],
  ["BatchNorm1d", [6, 3]],
  ["BatchNorm1d", [4, 3, 5]],
] as const) {
  for (const options of [{}, { momentum: 0.3 }, { momentum: null }, { affine: false }, { trackRunningStats: false }, { eps: 1e-2, momentum: 1 }, { affine: false, trackRunningStats: false }]) {
    cases.push({ layer, shape: [...shape], options });
  }
}

function torchKwargs(o: BatchNormLayerOptions): string {
  const args: string[] = [];
  if (o.eps !== undefined) args.push(`eps=${o.eps}`);
  if (o.momentum !== undefined) args.push(`momentum=${o.momentum === null ? "None" : o.momentum}`);
  if (o.affine !== undefined) args.push(`affine=${o.affine ? "True" : "False"}`);
  if (o.trackRunningStats !== undefined) args.push(`track_running_stats=${o.trackRunningStats ? "True" : "False"}`);
  return args.length === 0 ? "" : `, ${args.join(", ")}`;
}

function draw(shape: readonly number[], dtype: DType, gen: Generator, shift = 0): Tensor {
  return Tensor.randn([...shape], { dtype, generator: gen }).mul(1.5).add(shift);
}

async function runCase(c: Case, dtype: DType): Promise<void> {
  const gen = new Generator(11);
  const channels = c.shape[1]!;
  const xs = Array.from({ length: STEPS + 1 }, (_, i) => draw(c.shape, dtype, gen, i * 0.3));
  const ups = Array.from({ length: STEPS + 1 }, () => draw(c.shape, dtype, gen));
  const gamma = draw([channels], dtype, gen, 1);
  const beta = draw([channels], dtype, gen);
  const Layer = c.layer === "BatchNorm1d" ? BatchNorm1d : BatchNorm2d;
  const bn = new Layer(channels, { ...c.options, dtype });
  if (bn.weight !== null) {
    bn.weight.data.data.set(gamma.toTypedArray());
    bn.bias!.data.data.set(beta.toTypedArray());
  }
  const outs: Tensor[] = [];
  const grads: Tensor[] = [];
  const paramGrads: Tensor[] = [];
  const stats: Tensor[] = [];
  for (let i = 0; i <= STEPS; i++) {
    if (i === STEPS) bn.eval();
    const x = xs[i]!.detach();
    x.requiresGrad = true;
    const y = bn.forward(x);
    y.backward(ups[i]);
    outs.push(y.detach());
    grads.push(x.grad!);
    if (bn.weight !== null) {
      paramGrads.push(bn.weight.grad!, bn.bias!.grad!);
      bn.zeroGrad();
    }
    if (bn.running_mean !== null) stats.push(bn.running_mean.detach().clone(), bn.running_var!.detach().clone());
  }
  const r = await oracle().run({
    inputs: {
      xs: xs.map((x) => torchInput(x, { requiresGrad: false })),
      ups: ups.map((u) => torchInput(u)),
      gamma: torchInput(gamma),
      beta: torchInput(beta),
    },
    code: `
bn = nn.${c.layer}(${channels}${torchKwargs(c.options)}).to(xs[0].dtype)
if bn.affine:
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
outs, grads, param_grads, stats = [], [], [], []
for i in range(${STEPS + 1}):
    if i == ${STEPS}:
        bn.eval()
    x = xs[i].clone().requires_grad_(True)
    y = bn(x)
    y.backward(ups[i])
    outs.append(y.detach())
    grads.append(x.grad)
    if bn.affine:
        param_grads += [bn.weight.grad.clone(), bn.bias.grad.clone()]
        bn.zero_grad()
    if bn.running_mean is not None:
        stats += [bn.running_mean.clone(), bn.running_var.clone()]
count = int(bn.num_batches_tracked) if bn.num_batches_tracked is not None else None
keys = list(bn.state_dict().keys())`,
    outputs: ["outs", "grads", "param_grads", "stats", "count", "keys"],
  });
  const label = `${c.layer}${JSON.stringify(c.options)} ${dtype}`;
  const rtol = RTOL[dtype];
  const list = (name: string, n: number) => Array.from({ length: n }, (_, i) => r.tensor(`${name}.${i}`));
  list("outs", STEPS + 1).forEach((t, i) => expectTorchClose(`${label} output ${i}`, outs[i]!, t, rtol));
  list("grads", STEPS + 1).forEach((t, i) => expectTorchClose(`${label} input grad ${i}`, grads[i]!, t, rtol));
  expect(paramGrads.length).toBe((r.values.param_grads as unknown[]).length);
  list("param_grads", paramGrads.length).forEach((t, i) => expectTorchClose(`${label} weight/bias grad ${i}`, paramGrads[i]!, t, rtol));
  expect(stats.length).toBe((r.values.stats as unknown[]).length);
  list("stats", stats.length).forEach((t, i) => expectTorchClose(`${label} running stat ${i}`, stats[i]!, t, rtol));
  expect(bn.num_batches_tracked?.item() ?? null).toBe(r.values.count);
  expect(Object.keys(bn.stateDict())).toEqual(r.values.keys);
}

describeTorch("BatchNorm1d/2d vs torch: training steps then evaluation, running statistics, gradients", () => {
  for (const c of cases) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${c.layer} x=${JSON.stringify(c.shape)} ${JSON.stringify(c.options)} ${dtype}`, () => runCase(c, dtype));
    }
  }
});
