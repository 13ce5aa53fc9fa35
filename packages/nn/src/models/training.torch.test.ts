import { Generator, Tensor, tensor, type DType } from "@pico/core";
import { Adam, SGD, type Optimizer } from "@pico/optim";
import { RTOL, describeTorch, oracle, torchInput, type OracleValue, expectTorchClose } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { AvgPool2d } from "../layers/avg-pool2d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { Module } from "../module.js";
import { referenceCnn } from "./reference-cnn.js";

// End to end: a network and its torch twin start from the same weights (Pico's state dict, loaded by
// key names), take 5 optimizer steps on the same batches, and must agree on every loss and on the
// whole state dict afterwards (BatchNorm's running statistics and counters included).

const STEPS = 5;

// Every convolution followed by BatchNorm has no bias, as in ResNets: such a bias has an exactly zero
// gradient (the mean subtraction cancels it), so what it gets is rounding noise, which Adam scales up
// to steps of about lr in float32, differently in each framework.

/** Two 3×3 convolutions with BatchNorm around an identity shortcut, as in a ResNet basic block. */
class Block extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  relu = new ReLU();

  constructor(channels: number, dtype: DType, generator: Generator) {
    super();
    this.conv1 = new Conv2d(channels, channels, 3, { padding: 1, bias: false, dtype, generator });
    this.bn1 = new BatchNorm2d(channels, { dtype });
    this.conv2 = new Conv2d(channels, channels, 3, { padding: 1, bias: false, dtype, generator });
    this.bn2 = new BatchNorm2d(channels, { dtype });
  }

  forward(x: Tensor): Tensor {
    const y = this.bn2.forward(this.conv2.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x)))));
    return this.relu.forward(y.add(x));
  }
}

class ResidualNet extends Module {
  stem: Sequential;
  block: Block;
  head: Sequential;

  constructor(dtype: DType, generator: Generator) {
    super();
    this.stem = new Sequential(new Conv2d(1, 6, 3, { stride: 2, padding: 1, bias: false, dtype, generator }), new BatchNorm2d(6, { dtype }), new ReLU());
    this.block = new Block(6, dtype, generator);
    this.head = new Sequential(new AvgPool2d(14), new Flatten(), new Linear(6, 10, { dtype, generator }));
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(this.block.forward(this.stem.forward(x)));
  }
}

const RESIDUAL_PY = `
class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)
class ResidualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU())
        self.block = Block(6)
        self.head = nn.Sequential(nn.AvgPool2d(14), nn.Flatten(), nn.Linear(6, 10))
    def forward(self, x):
        return self.head(self.block(self.stem(x)))
model = ResidualNet()`;

const REFERENCE_PY = `
model = nn.Sequential(
    nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 10))`;

interface Case {
  label: string;
  model: (dtype: DType) => Module;
  torchModel: string;
  optimizer: (params: Tensor[]) => Optimizer;
  torchOptimizer: string;
}

const cases: Case[] = [
  {
    label: "reference network, Adam 1e-3",
    model: (dtype) => referenceCnn(new Generator(21)).to(dtype),
    torchModel: REFERENCE_PY,
    optimizer: (p) => new Adam(p, { lr: 1e-3 }),
    torchOptimizer: "torch.optim.Adam(model.parameters(), lr=1e-3)",
  },
  {
    label: "reference network, SGD momentum 0.9 nesterov, weight decay",
    model: (dtype) => referenceCnn(new Generator(22)).to(dtype),
    torchModel: REFERENCE_PY,
    optimizer: (p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
    torchOptimizer: "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)",
  },
  {
    label: "residual network with BatchNorm, SGD momentum 0.9",
    model: (dtype) => new ResidualNet(dtype, new Generator(23)),
    torchModel: RESIDUAL_PY,
    optimizer: (p) => new SGD(p, { lr: 0.05, momentum: 0.9 }),
    torchOptimizer: "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)",
  },
  {
    label: "residual network with BatchNorm, Adam 1e-3",
    model: (dtype) => new ResidualNet(dtype, new Generator(24)),
    torchModel: RESIDUAL_PY,
    optimizer: (p) => new Adam(p, { lr: 1e-3 }),
    torchOptimizer: "torch.optim.Adam(model.parameters(), lr=1e-3)",
  },
];

async function runCase(c: Case, dtype: DType): Promise<void> {
  const model = c.model(dtype);
  const initial: Record<string, OracleValue> = {};
  for (const [k, t] of Object.entries(model.stateDict())) initial[k] = torchInput(t.clone(), { requiresGrad: false });
  const gen = new Generator(7);
  const batches = Array.from({ length: STEPS }, () => ({
    x: Tensor.randn([16, 1, 28, 28], { dtype, generator: gen }),
    y: tensor(Array.from({ length: 16 }, () => gen.randint(10))),
  }));
  const lossFn = new CrossEntropyLoss();
  const opt = c.optimizer(model.parameters());
  model.train();
  const losses: number[] = [];
  for (const { x, y } of batches) {
    opt.zeroGrad();
    const loss = lossFn.forward(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  const r = await oracle().run({
    inputs: {
      initial,
      xs: batches.map((b) => torchInput(b.x)),
      ys: batches.map((b) => torchInput(b.y, { dtype: "int64" })),
    },
    code: `${c.torchModel}
model = model.to(xs[0].dtype)
model.load_state_dict({k: v.to(torch.int64) if k.endswith('num_batches_tracked') else v for k, v in initial.items()}, strict=True)
opt = ${c.torchOptimizer}
model.train()
losses = []
for x, y in zip(xs, ys):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
state = model.state_dict()`,
    outputs: ["losses", "state"],
  });
  const label = `${c.label} ${dtype}`;
  const rtol = RTOL[dtype];
  expectTorchClose(`${label} losses`, losses, r.values.losses as number[], rtol);
  const theirs = r.tensors("state");
  const mine = model.stateDict();
  expect(Object.keys(mine)).toEqual([...theirs.keys()]);
  for (const [k, t] of Object.entries(mine)) expectTorchClose(`${label} ${k} after ${STEPS} steps`, t, theirs.get(k)!, rtol);
}

describeTorch("5 training steps from the same weights vs torch: losses and state dicts", () => {
  for (const c of cases) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${c.label} ${dtype}`, () => runCase(c, dtype));
    }
  }
});
