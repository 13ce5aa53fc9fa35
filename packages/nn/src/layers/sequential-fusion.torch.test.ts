import { Generator, Tensor, type DType } from "@pico/core";
import { RTOL, describeTorch, oracle, torchInput, type OracleValue, expectTorchClose } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { BatchNorm2d } from "./batch-norm2d.js";
import { Conv2d } from "./conv2d.js";
import { MaxPool2d } from "./max-pool2d.js";
import { ReLU } from "./relu.js";
import { Sequential } from "./sequential.js";

// Every chain a Sequential fuses (fusion/patterns.ts) against torch's unfused modules: 3 training
// steps (outputs, input and parameter gradients, running statistics), then evaluation, where a
// BatchNorm after a convolution is folded into it (output and input gradient).

const STEPS = 3;

interface Chain {
  label: string;
  build: (dtype: DType, gen: Generator) => Sequential;
  torch: string;
  x: number[];
}

const chains: Chain[] = [
  {
    label: "Conv2d → BatchNorm2d → ReLU → MaxPool2d",
    build: (dtype, generator) => new Sequential(new Conv2d(3, 4, 3, { padding: 1, dtype, generator }), new BatchNorm2d(4, { dtype }), new ReLU(), new MaxPool2d(2)),
    torch: "nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))",
    x: [4, 3, 8, 8],
  },
  {
    label: "Conv2d → BatchNorm2d → ReLU",
    build: (dtype, generator) => new Sequential(new Conv2d(3, 5, 3, { stride: 2, dtype, generator }), new BatchNorm2d(5, { dtype, momentum: 0.3 }), new ReLU()),
    torch: "nn.Sequential(nn.Conv2d(3, 5, 3, stride=2), nn.BatchNorm2d(5, momentum=0.3), nn.ReLU())",
    x: [3, 3, 9, 9],
  },
  {
    label: "Conv2d (same, no bias) → BatchNorm2d",
    build: (dtype, generator) => new Sequential(new Conv2d(3, 4, 3, { padding: "same", bias: false, dtype, generator }), new BatchNorm2d(4, { dtype })),
    torch: "nn.Sequential(nn.Conv2d(3, 4, 3, padding='same', bias=False), nn.BatchNorm2d(4))",
    x: [2, 3, 7, 6],
  },
  {
    label: "BatchNorm2d → ReLU",
    build: (dtype) => new Sequential(new BatchNorm2d(3, { dtype }), new ReLU()),
    torch: "nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())",
    x: [4, 3, 5, 5],
  },
  {
    label: "BatchNorm2d (affine false, momentum null) → ReLU",
    build: (dtype) => new Sequential(new BatchNorm2d(3, { dtype, affine: false, momentum: null }), new ReLU()),
    torch: "nn.Sequential(nn.BatchNorm2d(3, affine=False, momentum=None), nn.ReLU())",
    x: [4, 3, 5, 5],
  },
];

async function run(chain: Chain, dtype: DType): Promise<void> {
  const gen = new Generator(17);
  const seq = chain.build(dtype, gen);
  // Non-trivial γ and β, the same on both sides through the state dict.
  for (const [k, t] of Object.entries(seq.stateDict())) {
    if (/\.(weight|bias)$/.test(k) && t.ndim === 1) t.data.data.set(Tensor.rand(t.shape, { dtype, generator: gen }).add(0.5).toTypedArray());
  }
  const initial: Record<string, OracleValue> = {};
  for (const [k, t] of Object.entries(seq.stateDict())) initial[k] = torchInput(t.clone(), { requiresGrad: false });
  const xs = Array.from({ length: STEPS + 1 }, () => Tensor.randn(chain.x, { dtype, generator: gen }).add(0.3));
  const mine: Tensor[] = [];
  // A convolution bias followed by BatchNorm has an exactly zero gradient in training (the batch mean
  // cancels it): both sides hold rounding noise there, checked to be noise rather than compared.
  const noise = new Set<number>();
  for (let i = 0; i <= STEPS; i++) {
    if (i === STEPS) seq.eval();
    seq.zeroGrad();
    const x = xs[i]!.detach();
    x.requiresGrad = true;
    const y = seq.forward(x);
    y.mul(Tensor.randn(y.shape, { dtype, generator: new Generator(100 + i) })).sum().backward();
    mine.push(y.detach(), x.grad!);
    if (i < STEPS) {
      for (const [k, p] of seq.namedParameters()) {
        if (k === "0.bias" && seq.at(1) instanceof BatchNorm2d) noise.add(mine.length);
        mine.push(p.grad!);
      }
    }
  }
  // The same upstream gradients as above (every step's output has the first's shape).
  const ups = Array.from({ length: STEPS + 1 }, (_, i) => torchInput(Tensor.randn(mine[0]!.shape, { dtype, generator: new Generator(100 + i) })));
  const r = await oracle().run({
    inputs: { initial, xs: xs.map((x) => torchInput(x, { requiresGrad: false })), ups },
    code: `
m = ${chain.torch}.to(xs[0].dtype)
m.load_state_dict({k: v.to(torch.int64) if k.endswith('num_batches_tracked') else v for k, v in initial.items()}, strict=True)
out = []
for i in range(${STEPS + 1}):
    if i == ${STEPS}:
        m.eval()
    m.zero_grad(set_to_none=True)
    x = xs[i].clone().requires_grad_(True)
    y = m(x)
    (y * ups[i]).sum().backward()
    out += [y.detach(), x.grad]
    if i < ${STEPS}:
        out += [p.grad for p in m.parameters()]
state = m.state_dict()`,
    outputs: ["out", "state"],
  });
  const label = `${chain.label} ${dtype}`;
  const theirs = r.values.out as unknown[];
  expect(mine.length).toBe(theirs.length);
  const scale = Math.max(...mine.map((t) => Math.max(...Array.from(t.toTypedArray(), Math.abs))));
  mine.forEach((t, i) => {
    if (!noise.has(i)) expectTorchClose(`${label} array ${i}`, t, r.tensor(`out.${i}`), RTOL[dtype]);
    else for (const v of [...t.toTypedArray(), ...r.tensor(`out.${i}`).data]) expect(Math.abs(v)).toBeLessThan(RTOL[dtype] * scale);
  });
  const state = r.tensors("state");
  for (const [k, t] of Object.entries(seq.stateDict())) expectTorchClose(`${label} ${k}`, t, state.get(k)!, RTOL[dtype]);
}

describeTorch("Sequential's fused chains vs torch's modules: training steps, then evaluation (BatchNorm folded)", () => {
  for (const chain of chains) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${chain.label} ${dtype}`, () => run(chain, dtype));
    }
  }
});
