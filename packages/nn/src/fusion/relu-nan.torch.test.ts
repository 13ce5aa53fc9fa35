import { Generator, Tensor, noGrad, useKernels, type DType } from "@pico/core";
import { RTOL, compareWithTorch, describeTorch, expectTorchClose, oracle, torchInput, type CompareOptions, type OracleValue } from "@pico/torch-oracle";
import { afterAll, expect, it } from "vitest";
import { addRelu } from "../functional/add-relu.js";
import { batchNorm, batchNormRelu } from "../functional/batch-norm.js";
import { conv2dReluMaxPool2d } from "../functional/conv2d-relu-max-pool2d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";

// NaN through every fused ReLU against torch, where relu(NaN) is NaN, its gradient passes
// (threshold_backward: g unless the output is <= 0) and max_pool2d propagates NaN with the gradient on
// the window's last NaN. Each case runs on the "wasm" kernels (float32) and the TypeScript ones
// (float64, and float32 under useKernels("js")). A NaN bias makes one output channel NaN while every
// gradient stays finite: a kernel that drops the NaN (relu = 0, gradient 0) shows up as a number.

/** Seeded uniform values in [-2, 2) with NaN at `at`. */
function withNaN(size: number, at: readonly number[], seed = 3): number[] {
  const gen = new Generator(seed);
  const v = Array.from({ length: size }, () => gen.random() * 4 - 2);
  for (const i of at) v[i] = Number.NaN;
  return v;
}

const SPECIAL = [-1.5, -0, 0, 0.5, 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

for (const backend of ["wasm", "js"] as const) {
  describeTorch(`NaN through relu and its fusions vs torch (kernels ${backend})`, () => {
    const float32: CompareOptions = backend === "js" ? { dtypes: ["float32"] } : {};
    const use = (): void => {
      useKernels(backend);
    };
    afterAll(() => {
      useKernels("wasm");
    });
    const compare = (shapes: number[][], pico: (...t: Tensor[]) => Tensor, torch: string, options: CompareOptions): Promise<void> => {
      use();
      return compareWithTorch(shapes, pico, torch, { ...float32, ...options, label: `${options.label ?? torch} [${backend}]` });
    };

    // Small (the TypeScript loops) and past 4096 elements (the relu family's WebAssembly threshold).
    for (const shape of [[5, 7], [64, 80]]) {
      it(`relu ${JSON.stringify(shape)} with NaN, ±0, ±Infinity`, () => compare([shape], (a) => a.relu(), "F.relu(a)", { choices: SPECIAL }));
      it(`addRelu ${JSON.stringify(shape)} with NaN, ±0, ±Infinity`, () =>
        compare([shape, shape], (a, b) => addRelu(a, b), "F.relu(a + b)", { choices: SPECIAL, label: "addRelu" }));
    }
    it("relu, non-contiguous, with NaN", () => compare([[6, 5]], (a) => a.relu(), "F.relu(a)", { choices: SPECIAL, strided: true }));

    it("batchNormRelu in evaluation: NaN inputs stay NaN and pass their gradient", () =>
      compare(
        [[3, 4, 5, 6], [4], [4], [4], [4]],
        (x, rm, rv, w, b) => batchNormRelu(x, rm, rv, { training: false, weight: w, bias: b }),
        "F.relu(F.batch_norm(a, b, c, d, e, training=False))",
        { inputs: [{ values: withNaN(360, [0, 7, 100, 359]) }, { requiresGrad: false }, { low: 0.5, high: 2, requiresGrad: false }], label: "batchNormRelu eval NaN" },
      ));
    it("batchNorm (no ReLU) in evaluation: a NaN input does not reach its own gradient", () =>
      compare(
        [[3, 4, 5, 6], [4], [4], [4], [4]],
        (x, rm, rv, w, b) => batchNorm(x, rm, rv, { training: false, weight: w, bias: b }),
        "F.batch_norm(a, b, c, d, e, training=False)",
        { inputs: [{ values: withNaN(360, [0, 7, 100, 359]) }, { requiresGrad: false }, { low: 0.5, high: 2, requiresGrad: false }], label: "batchNorm eval NaN" },
      ));
    it("batchNormRelu in training: a channel with a NaN is NaN, its β still gets the gradient", () =>
      compare(
        [[3, 4, 5, 6], [4], [4]],
        (x, w, b) => batchNormRelu(x, null, null, { training: true, weight: w, bias: b }),
        "F.relu(F.batch_norm(a, None, None, b, c, training=True))",
        { inputs: [{ values: withNaN(360, [31]) }], label: "batchNormRelu train NaN" },
      ));

    // Geometries of each way conv2dReluMaxPool2d runs: direct (unpadded, outC % 4 = 0, oW % 8 = 0),
    // Winograd F(2x2, 5x5) pooling (inference, >= 4 input channels) and im2col + GEMM (padded, odd sizes).
    const convs = [
      { label: "direct", x: [2, 1, 12, 12], w: [8, 1, 5, 5], conv: {}, torch: "" },
      { label: "winograd 5x5", x: [2, 4, 12, 12], w: [8, 4, 5, 5], conv: {}, torch: "" },
      { label: "gemm", x: [2, 3, 9, 9], w: [4, 3, 3, 3], conv: { padding: 1 }, torch: ", padding=1" },
    ];
    for (const c of convs) {
      const bias = { values: withNaN(c.w[0]!, [1]) };
      const fn = (x: Tensor, w: Tensor, b: Tensor): Tensor => conv2dReluMaxPool2d(x, w, b, c.conv, 2);
      const torch = `F.max_pool2d(F.relu(F.conv2d(a, b, c${c.torch})), 2)`;
      it(`conv2dReluMaxPool2d ${c.label}, NaN bias: training`, () => compare([c.x, c.w, [c.w[0]!]], fn, torch, { inputs: [undefined, undefined, bias], label: `conv2dReluMaxPool2d ${c.label} NaN bias` }));
      it(`conv2dReluMaxPool2d ${c.label}, NaN bias: inference`, () =>
        compare([c.x, c.w, [c.w[0]!]], fn, torch, { inputs: [undefined, undefined, bias], grad: false, label: `conv2dReluMaxPool2d ${c.label} NaN bias inference` }));
    }
    // A NaN pixel makes a window of outputs NaN, some pools a mix of NaN and numbers (not Winograd, whose
    // tile transforms spread a NaN over the whole tile: see the core README).
    for (const c of [convs[0]!, convs[2]!]) {
      const size = c.x.reduce((a, b) => a * b, 1);
      const x = { values: withNaN(size, [17, size - 30]) };
      it(`conv2dReluMaxPool2d ${c.label}, NaN pixels`, () =>
        compare([c.x, c.w, [c.w[0]!]], (a, w, b) => conv2dReluMaxPool2d(a, w, b, c.conv, 2), `F.max_pool2d(F.relu(F.conv2d(a, b, c${c.torch})), 2)`, {
          inputs: [x],
          label: `conv2dReluMaxPool2d ${c.label} NaN pixels`,
        }));
    }

    // Sequential's fusions, module against module, a NaN in the first convolution's bias.
    const chains = [
      { label: "Conv2d → ReLU → MaxPool2d", build: (d: DType, g: Generator) => new Sequential(new Conv2d(1, 8, 5, { dtype: d, generator: g }), new ReLU(), new MaxPool2d(2)), torch: "nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2))", x: [2, 1, 12, 12] },
      { label: "Conv2d → BatchNorm2d → ReLU", build: (d: DType, g: Generator) => new Sequential(new Conv2d(3, 4, 3, { padding: 1, dtype: d, generator: g }), new BatchNorm2d(4, { dtype: d }), new ReLU()), torch: "nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())", x: [2, 3, 6, 6] },
      { label: "Conv2d → ReLU", build: (d: DType, g: Generator) => new Sequential(new Conv2d(3, 4, 3, { dtype: d, generator: g }), new ReLU()), torch: "nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())", x: [2, 3, 6, 6] },
      // Winograd F(4x4, 3x3) with ReLU in its output transform (float32).
      { label: "Conv2d(16, 16, 3, padding 1) → ReLU", build: (d: DType, g: Generator) => new Sequential(new Conv2d(16, 16, 3, { padding: 1, dtype: d, generator: g }), new ReLU()), torch: "nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())", x: [2, 16, 8, 8] },
    ];
    for (const chain of chains) {
      for (const dtype of backend === "js" ? (["float32"] as const) : (["float64", "float32"] as const)) {
        for (const mode of ["train", "eval"] as const) {
          it(`${chain.label} ${dtype} ${mode}, NaN bias`, async () => {
            use();
            await runChain(chain, dtype, mode, backend);
          });
        }
      }
    }
  });
}

async function runChain(chain: { label: string; build: (d: DType, g: Generator) => Sequential; torch: string; x: number[] }, dtype: DType, mode: "train" | "eval", backend: string): Promise<void> {
  const gen = new Generator(23);
  const seq = chain.build(dtype, gen);
  seq.stateDict()["0.bias"]!.data.data[1] = Number.NaN;
  const initial: Record<string, OracleValue> = {};
  for (const [k, t] of Object.entries(seq.stateDict())) initial[k] = torchInput(t.clone(), { requiresGrad: false });
  if (mode === "eval") seq.eval();
  const x = Tensor.randn(chain.x, { dtype, generator: gen });
  const input = x.detach();
  input.requiresGrad = true;
  const y = seq.forward(input);
  const upstream = Tensor.randn(y.shape, { dtype, generator: new Generator(5) });
  y.mul(upstream).sum().backward();
  const named = [...seq.namedParameters()];
  const mine = [y.detach(), input.grad!, ...named.map(([, p]) => p.grad!)];
  // A convolution bias followed by BatchNorm in training has an exactly zero gradient (the batch mean
  // cancels it): both sides hold rounding noise there (NaN in the NaN channel), checked as such.
  const noise = mode === "train" && seq.at(1) instanceof BatchNorm2d ? 2 + named.findIndex(([k]) => k === "0.bias") : -1;
  // Evaluation without a graph: the inference kernels (no arg-max, ReLU and pooling on the accumulators).
  const inference = mode === "eval" ? noGrad(() => seq.forward(x)) : null;
  const r = await oracle().run({
    inputs: { initial, x: torchInput(x, { requiresGrad: false }), up: torchInput(upstream, { requiresGrad: false }) },
    code: `
m = ${chain.torch}.to(x.dtype)
m.load_state_dict({k: v.to(torch.int64) if k.endswith('num_batches_tracked') else v for k, v in initial.items()}, strict=True)
${mode === "eval" ? "m.eval()" : ""}
xi = x.clone().requires_grad_(True)
y = m(xi)
(y * up).sum().backward()
out = [y.detach(), xi.grad] + [p.grad for p in m.parameters()]
state = m.state_dict()`,
    outputs: ["out", "state"],
  });
  const label = `${chain.label} ${dtype} ${mode} [${backend}]`;
  expect(mine.length).toBe((r.values.out as unknown[]).length);
  const finite = mine.flatMap((t) => Array.from(t.toTypedArray()).filter(Number.isFinite));
  const scale = Math.max(...finite.map(Math.abs));
  mine.forEach((t, i) => {
    if (i !== noise) expectTorchClose(`${label} array ${i}`, t, r.tensor(`out.${i}`), RTOL[dtype]);
    else {
      const [ours, theirs] = [Array.from(t.toTypedArray()), Array.from(r.tensor(`out.${i}`).data)];
      ours.forEach((v, j) => expect(Number.isNaN(v) ? Number.isNaN(theirs[j]!) : Math.abs(v) < RTOL[dtype] * scale && Math.abs(theirs[j]!) < RTOL[dtype] * scale, `${label} ${j}`).toBe(true));
    }
  });
  expect(mine[0]!.toTypedArray().some(Number.isNaN)).toBe(true);
  if (inference !== null) expectTorchClose(`${label} inference`, inference, r.tensor("out.0"), RTOL[dtype]);
  const state = r.tensors("state");
  for (const [k, t] of Object.entries(seq.stateDict())) expectTorchClose(`${label} ${k}`, t, state.get(k)!, RTOL[dtype]);
}
