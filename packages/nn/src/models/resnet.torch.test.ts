import { Generator, Tensor } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { CifarNet } from "./cifar-net.js";
import { ResNet } from "./resnet.js";

// torchvision is not installed: its BasicBlock and the CIFAR ResNet (same names, same layers) in a few lines.
const TORCH_MODELS = `
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None
    def forward(self, x):
        h = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(h + (x if self.downsample is None else self.downsample(x)))

class ResNet(nn.Module):
    def __init__(self, depth, widths, cin, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(cin, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        stage = lambda a, b, s: nn.Sequential(*[BasicBlock(a if i == 0 else b, b, s if i == 0 else 1) for i in range(n)])
        self.layer1 = stage(widths[0], widths[0], 1)
        self.layer2 = stage(widths[0], widths[1], 2)
        self.layer3 = stage(widths[1], widths[2], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], classes)
    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)
    def forward(self, x):
        return self.relu(x + self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

class CifarNet(nn.Module):
    def __init__(self, cin):
        super().__init__()
        conv = lambda a, b: nn.Conv2d(a, b, 3, padding=1)
        self.features = nn.Sequential(conv(cin, 32), nn.BatchNorm2d(32), nn.ReLU(), conv(32, 32), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            conv(32, 64), nn.BatchNorm2d(64), nn.ReLU(), Block(64), nn.MaxPool2d(2), conv(64, 128), nn.BatchNorm2d(128), nn.ReLU())
        self.classifier = nn.Linear(128, 10)
    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))
`;

/**
 * Loads the Pico model's state dict into the torch module, runs one training-mode forward and
 * backward and one eval-mode forward on both, and compares outputs, the input gradient, every
 * parameter gradient and the running statistics after the step (float64).
 */
async function sameAsTorch(model: ResNet | CifarNet, torchModel: string, inputShape: number[]): Promise<void> {
  model.to("float64");
  const g = new Generator(11);
  const x = Tensor.randn(inputShape, { dtype: "float64", generator: g, requiresGrad: true });
  const upstream = Tensor.randn([inputShape[0]!, 10], { dtype: "float64", generator: g });
  const initial = model.stateDict();
  const r = await oracle().run({
    inputs: { sd: initial, x, up: upstream },
    code: `${TORCH_MODELS}
m = ${torchModel}.double()
m.load_state_dict(sd)
m.train()
y = m(x)
y.backward(up)
xg = x.grad
grads = {k: p.grad for k, p in m.named_parameters()}
m.eval()
with torch.no_grad():
    ev = m(x)
state = m.state_dict()`,
    outputs: ["y", "xg", "grads", "ev", "state"],
  });
  model.train();
  const y = model.forward(x);
  y.backward(upstream);
  const close = (pico: Tensor, torch: Float64Array, what: string): void => {
    const mine = pico.toTypedArray();
    expect(mine.length, what).toBe(torch.length);
    let scale = 0;
    for (const v of torch) scale = Math.max(scale, Math.abs(v));
    // A convolution's bias ahead of BatchNorm has a gradient of exactly 0 in theory (rounding noise on both sides): the floor keeps that a pass.
    let worst = 0;
    for (let i = 0; i < torch.length; i++) worst = Math.max(worst, Math.abs(mine[i]! - torch[i]!) / Math.max(Math.abs(torch[i]!) + scale, 1e-3));
    expect(worst, what).toBeLessThan(1e-10);
  };
  close(y, r.tensor("y").data, "training-mode output");
  close(x.grad!, r.tensor("xg").data, "input gradient");
  const grads = r.tensors("grads");
  for (const [name, p] of model.namedParameters()) close(p.grad!, grads.get(name)!.data, `gradient of ${name}`);
  const state = r.tensors("state");
  const mine = model.stateDict();
  expect(Object.keys(mine)).toEqual([...state.keys()]);
  for (const [k, t] of Object.entries(mine)) close(t, state.get(k)!.data, `state ${k} after the step`);
  model.eval();
  close(model.forward(x.detach()), r.tensor("ev").data, "eval-mode output");
}

describeTorch("model zoo vs the same torch modules loaded with Pico's state dict", () => {
  it("ResNet-8 on [2, 1, 28, 28]", () => sameAsTorch(new ResNet({ depth: 8, generator: new Generator(1) }), "ResNet(8, [16, 32, 64], 1, 10)", [2, 1, 28, 28]));
  it("ResNet-14 narrow on [2, 3, 32, 32]", () =>
    sameAsTorch(new ResNet({ depth: 14, widths: [4, 8, 12], inChannels: 3, generator: new Generator(2) }), "ResNet(14, [4, 8, 12], 3, 10)", [2, 3, 32, 32]));
  it("CifarNet on [2, 3, 32, 32]", () => sameAsTorch(new CifarNet({ generator: new Generator(3) }), "CifarNet(3)", [2, 3, 32, 32]));
});
