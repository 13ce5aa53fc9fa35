import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Generator, Tensor, noGrad } from "@pico/core";
import { AvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, Module, ReLU, Sequential, referenceCnn } from "@pico/nn";
import { describeTorch, oracle, torchInput } from "@pico/torch-oracle";
import { afterAll, expect, it } from "vitest";
import { loadSafetensors, saveSafetensors } from "./safetensors.js";

// Interchange with PyTorch through safetensors files, both ways, with no renaming: Pico writes a
// state dict that torch's load_state_dict(strict=True) takes, and reads a file that torch's state
// dict was written to (by hand in Python: 8-byte little-endian header length, JSON header, raw data;
// there is no safetensors package for this Python). The models then give the same outputs.

const dir = mkdtempSync(join(tmpdir(), "pico-interchange-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAFETENSORS_PY = `
import json, struct
def read_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    kinds = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
    out = {}
    for key, entry in header.items():
        if key == '__metadata__':
            continue
        begin, end = entry['data_offsets']
        values = np.frombuffer(data[begin:end], dtype=kinds[entry['dtype']]).reshape(entry['shape']).copy()
        out[key] = torch.from_numpy(values)
    return out
def write_safetensors(path, state):
    kinds = {torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}
    header, blobs, offset = {}, [], 0
    for key, t in state.items():
        b = t.detach().contiguous().numpy().tobytes()
        header[key] = {'dtype': kinds[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    text = json.dumps(header).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        f.write(b''.join(blobs))
`;

const REFERENCE_PY = `
model = nn.Sequential(
    nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 10))
`;

/** A residual network with BatchNorm: the same attribute names as the torch module below, so the same keys. */
class Block extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  relu = new ReLU();

  constructor(channels: number, generator: Generator) {
    super();
    this.conv1 = new Conv2d(channels, channels, 3, { padding: 1, bias: false, generator });
    this.bn1 = new BatchNorm2d(channels);
    this.conv2 = new Conv2d(channels, channels, 3, { padding: 1, bias: false, generator });
    this.bn2 = new BatchNorm2d(channels);
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

  constructor(generator = new Generator(3)) {
    super();
    this.stem = new Sequential(new Conv2d(1, 4, 3, { stride: 2, padding: 1, generator }), new BatchNorm2d(4), new ReLU());
    this.block = new Block(4, generator);
    this.head = new Sequential(new AvgPool2d(14), new Flatten(), new Linear(4, 10, { generator }));
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
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = Block(4)
        self.head = nn.Sequential(nn.AvgPool2d(14), nn.Flatten(), nn.Linear(4, 10))
    def forward(self, x):
        return self.head(self.block(self.stem(x)))
model = ResidualNet()
`;

const images = (n: number, seed: number): Tensor => Tensor.randn([n, 1, 28, 28], { generator: new Generator(seed) }).add(0.2);
const close = (a: Float64Array | Float32Array, b: Float64Array, tol: number): number => {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + scale));
  expect(worst).toBeLessThan(tol);
  return worst;
};

async function picoToTorch(model: Module, torchModel: string, file: string): Promise<void> {
  // Some training steps first, so that BatchNorm's running statistics and counters are not their initial values.
  model.train();
  for (let i = 0; i < 3; i++) noGrad(() => model.forward(images(8, 10 + i)));
  model.eval();
  const path = join(dir, file);
  saveSafetensors(path, model.stateDict());
  const x = images(5, 1);
  const expected = noGrad(() => model.forward(x));
  const r = await oracle().run({
    inputs: { path, x: torchInput(x) },
    code: `${SAFETENSORS_PY}${torchModel}
state = read_safetensors(path)
result = model.load_state_dict(state, strict=True)
model.eval()
y = model(x)
keys = list(state.keys())
counters = [int(v) for k, v in state.items() if k.endswith('num_batches_tracked')]
counter_dtypes = [str(v.dtype) for k, v in state.items() if k.endswith('num_batches_tracked')]`,
    outputs: ["y", "keys", "counters", "counter_dtypes"],
  });
  expect(r.values.keys).toEqual(Object.keys(model.stateDict()));
  const counters = r.values.counters as number[];
  expect(counters).toEqual(Object.entries(model.stateDict()).filter(([k]) => k.endsWith("num_batches_tracked")).map(() => 3));
  expect(r.values.counter_dtypes).toEqual(counters.map(() => "torch.int64"));
  close(expected.toTypedArray(), r.tensor("y").data, 1e-5);
}

async function torchToPico(model: Module, torchModel: string, file: string): Promise<void> {
  const path = join(dir, file);
  const x = images(5, 2);
  const r = await oracle().run({
    inputs: { path, x: torchInput(x) },
    seed: 5,
    code: `${SAFETENSORS_PY}${torchModel}
model.train()
with torch.no_grad():
    for i in range(4):
        model(torch.randn(8, 1, 28, 28) + 0.2)
model.eval()
y = model(x)
write_safetensors(path, model.state_dict())`,
    outputs: ["y"],
  });
  const { tensors } = loadSafetensors(path);
  expect(model.loadStateDict(tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
  for (const [k, t] of Object.entries(model.stateDict())) if (k.endsWith("num_batches_tracked")) expect(t.item()).toBe(4);
  model.eval();
  close(noGrad(() => model.forward(x)).toTypedArray(), r.tensor("y").data, 1e-5);
}

describeTorch("safetensors interchange with PyTorch, by key names, both ways", () => {
  it("the reference network: Pico → torch", () => picoToTorch(referenceCnn(new Generator(1)), REFERENCE_PY, "reference-pico.safetensors"));
  it("the reference network: torch → Pico", () => torchToPico(referenceCnn(new Generator(2)), REFERENCE_PY, "reference-torch.safetensors"));
  it("a residual network with BatchNorm: Pico → torch (num_batches_tracked arrives as int64)", () =>
    picoToTorch(new ResidualNet(), RESIDUAL_PY, "residual-pico.safetensors"));
  it("a residual network with BatchNorm: torch → Pico", () => torchToPico(new ResidualNet(new Generator(4)), RESIDUAL_PY, "residual-torch.safetensors"));
  it("the Pico state-dict keys are torch's own keys for the same module", async () => {
    const r = await oracle().run({ code: `${RESIDUAL_PY}\nkeys = list(model.state_dict().keys())`, outputs: ["keys"] });
    expect(Object.keys(new ResidualNet().stateDict())).toEqual(r.values.keys);
    const ref = await oracle().run({ code: `${REFERENCE_PY}\nkeys = list(model.state_dict().keys())`, outputs: ["keys"] });
    expect(Object.keys(referenceCnn().stateDict())).toEqual(ref.values.keys);
  });
});
