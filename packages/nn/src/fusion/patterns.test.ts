import { Generator, Tensor, noGrad, type DType } from "@pico/core";
import { describe, expect, it, vi } from "vitest";
import { BatchNorm, batchNorm } from "../functional/batch-norm.js";
import { Conv2dReluMaxPool2dFunction } from "../functional/conv2d-relu-max-pool2d.js";
import { MaxPool2dFunction } from "../functional/max-pool2d.js";
import { BatchNorm1d } from "../layers/batch-norm1d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { expectClose, values } from "../test-utils/tensors.js";
import { FUSION_PATTERNS } from "./patterns.js";

/** The names of the Functions that produced `t`, walking its graph. */
function functionsOf(t: Tensor): string[] {
  const names: string[] = [];
  const seen = new Set<unknown>();
  const stack: unknown[] = [t];
  while (stack.length > 0) {
    const u = stack.pop();
    if (!(u instanceof Tensor) || u.creator === null || seen.has(u.creator)) continue;
    seen.add(u.creator);
    names.push(u.creator.fn.name);
    stack.push(...(u.creator.inputs ?? []));
  }
  return names;
}

function withFusion<T>(enabled: boolean, f: () => T): T {
  const previous = Sequential.fusion;
  Sequential.fusion = enabled;
  try {
    return f();
  } finally {
    Sequential.fusion = previous;
  }
}

/** BatchNorms with running statistics and affine parameters away from their initial values. */
function perturb(model: Sequential, seed: number): void {
  const gen = new Generator(seed);
  noGrad(() => {
    for (const m of model.modules()) {
      if (!(m instanceof BatchNorm2d || m instanceof BatchNorm1d)) continue;
      const set = (t: Tensor | null, f: () => number) => {
        if (t !== null) t.data.data.forEach((_, i, a) => (a[i] = f()));
      };
      set(m.running_mean, () => 0.3 * gen.normal());
      set(m.running_var, () => 0.5 + Math.abs(gen.normal()));
      set(m.weight, () => 1 + 0.3 * gen.normal());
      set(m.bias, () => 0.2 * gen.normal());
    }
  });
}

interface Outcome {
  out: number[];
  grads: number[][];
  state: Record<string, number[]>;
  functions: string[];
}

/** Forward, a weighted-sum backward, the gradients of the input and every parameter, and the state dict after. */
function run(build: () => Sequential, input: () => Tensor, training: boolean, fusion: boolean): Outcome {
  const model = build();
  model.train(training);
  const x = input();
  const y = withFusion(fusion, () => model.forward(x));
  const functions = functionsOf(y);
  y.mul(Tensor.randn(y.shape, { dtype: y.dtype, generator: new Generator(99) })).sum().backward();
  const grads = [x, ...model.parameters()].map((p) => Array.from(p.grad!.toTypedArray()));
  const state = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, values(v)]));
  return { out: values(y), grads, state, functions };
}

interface PatternCase {
  name: string;
  build: (dtype: DType) => Sequential;
  shape: number[];
  /** Functions the fused graph has that the unfused one has not, and the other way round, per mode. */
  train: { fused: string[]; gone: string[] };
  eval: { fused: string[]; gone: string[] };
}

const cases: PatternCase[] = [
  {
    name: "Conv2d → BatchNorm2d → ReLU → MaxPool2d",
    build: (dtype) => new Sequential(new Conv2d(3, 4, 3, { padding: 1, dtype, generator: new Generator(1) }), new BatchNorm2d(4, { dtype }), new ReLU(), new MaxPool2d(2)),
    shape: [2, 3, 8, 8],
    train: { fused: [], gone: ["Relu"] },
    eval: { fused: ["Conv2dReluMaxPool2dFunction"], gone: ["BatchNorm", "Relu", "MaxPool2dFunction"] },
  },
  {
    name: "Conv2d → BatchNorm2d → ReLU",
    build: (dtype) => new Sequential(new Conv2d(3, 4, 3, { stride: 2, dtype, generator: new Generator(2) }), new BatchNorm2d(4, { dtype }), new ReLU(), new Flatten()),
    shape: [2, 3, 9, 9],
    train: { fused: [], gone: ["Relu"] },
    eval: { fused: ["Conv2dReluFunction"], gone: ["BatchNorm", "Relu"] },
  },
  {
    name: "Conv2d → ReLU",
    build: (dtype) => new Sequential(new Conv2d(3, 8, 3, { padding: "same", dtype, generator: new Generator(6) }), new ReLU(), new Flatten()),
    shape: [2, 3, 6, 16],
    train: { fused: ["Conv2dReluFunction"], gone: ["Conv2dFunction", "Relu"] },
    eval: { fused: ["Conv2dReluFunction"], gone: ["Conv2dFunction", "Relu"] },
  },
  {
    name: "Conv2d → BatchNorm2d",
    build: (dtype) => new Sequential(new Conv2d(3, 4, 3, { padding: "same", bias: false, dtype, generator: new Generator(3) }), new BatchNorm2d(4, { dtype })),
    shape: [2, 3, 6, 7],
    train: { fused: [], gone: [] },
    eval: { fused: [], gone: ["BatchNorm"] },
  },
  {
    name: "BatchNorm → ReLU",
    build: (dtype) => new Sequential(new Linear(5, 6, { dtype, generator: new Generator(4) }), new BatchNorm1d(6, { dtype }), new ReLU(), new Linear(6, 2, { dtype, generator: new Generator(5) })),
    shape: [7, 5],
    train: { fused: [], gone: ["Relu"] },
    eval: { fused: [], gone: ["Relu"] },
  },
];

const count = (list: string[], name: string): number => list.filter((n) => n === name).length;

describe("fusion patterns in a Sequential equal the unfused modules", () => {
  it("the pattern list names every pattern these tests cover, longest first", () => {
    expect(FUSION_PATTERNS.map((p) => p.name)).toEqual(["Conv2d → BatchNorm2d → ReLU → MaxPool2d", "Conv2d → BatchNorm2d → ReLU", "Conv2d → ReLU → MaxPool2d", "Conv2d → BatchNorm2d", "Conv2d → ReLU", "BatchNorm → ReLU"]);
  });

  for (const k of cases) {
    for (const training of [true, false]) {
      for (const dtype of ["float64", "float32"] as const) {
        it(`${k.name}, ${training ? "training" : "evaluation"}, ${dtype}: output, gradients, running statistics`, () => {
          const build = () => {
            const m = k.build(dtype);
            perturb(m, 7);
            return m;
          };
          const input = () => Tensor.randn(k.shape, { dtype, generator: new Generator(11), requiresGrad: true });
          const fused = run(build, input, training, true);
          const plain = run(build, input, training, false);
          // Folding BatchNorm reorders float arithmetic; the WebAssembly kernels sum in float32 lanes.
          const [atol, rtol] = dtype === "float64" ? [1e-12, 1e-10] : [1e-5, 1e-4];
          expectClose(fused.out, plain.out, "output", atol, rtol);
          fused.grads.forEach((g, i) => expectClose(g, plain.grads[i]!, `gradient ${i}`, atol * 10, rtol * 10));
          expect(Object.keys(fused.state)).toEqual(Object.keys(plain.state));
          for (const key of Object.keys(plain.state)) expectClose(fused.state[key]!, plain.state[key]!, key, atol, rtol);
          const expected = training ? k.train : k.eval;
          for (const name of expected.fused) expect(count(fused.functions, name), name).toBeGreaterThan(count(plain.functions, name));
          for (const name of expected.gone) expect(count(fused.functions, name), name).toBeLessThan(count(plain.functions, name));
        });
      }
    }
  }

  it("evaluation under noGrad: the folded Conv2d → BatchNorm2d → ReLU rectifies in the convolution's output pass", () => {
    const model = cases[1]!.build("float32");
    perturb(model, 3);
    model.eval();
    const x = Tensor.randn([2, 3, 9, 9], { generator: new Generator(4) });
    const fused = noGrad(() => withFusion(true, () => model.forward(x)));
    const plain = noGrad(() => withFusion(false, () => model.forward(x)));
    expectClose(values(fused), values(plain), "output", 1e-5, 1e-4);
    expect(Math.min(...values(fused))).toBe(0);
  });

  it("Conv2d → ReLU → MaxPool2d declines a float32 convolution that goes by Winograd alone (conv + ReLU fused, pool apart), not one that does not", () => {
    const build = (c: number, k: number, padding: number) => new Sequential(new Conv2d(c, 16, k, { padding, generator: new Generator(8) }), new ReLU(), new MaxPool2d(2));
    const winograd = build(16, 3, 1);
    const x = Tensor.randn([2, 16, 8, 8], { generator: new Generator(9) });
    const fused = withFusion(true, () => winograd.forward(x));
    expect(functionsOf(fused).sort()).toEqual(["Conv2dReluFunction", "MaxPool2dFunction"]);
    expectClose(values(fused), values(withFusion(false, () => winograd.forward(x))), "output", 1e-4, 1e-4);
    const direct = build(1, 5, 0);
    expect(functionsOf(withFusion(true, () => direct.forward(Tensor.randn([2, 1, 12, 12], { generator: new Generator(10) }))))).toEqual(["Conv2dReluMaxPool2dFunction"]);
  });

  it("evaluation under noGrad: Conv2d → BatchNorm2d → ReLU → MaxPool2d of a Winograd geometry pools inside the convolution; with gradients, the pool runs apart", () => {
    const model = new Sequential(new Conv2d(16, 16, 3, { padding: 1, generator: new Generator(12) }), new BatchNorm2d(16), new ReLU(), new MaxPool2d(2));
    perturb(model, 5);
    model.eval();
    const x = Tensor.randn([3, 16, 8, 8], { generator: new Generator(13) });
    const fusedCalls = vi.spyOn(Conv2dReluMaxPool2dFunction, "forward");
    const poolCalls = vi.spyOn(MaxPool2dFunction, "forward");
    try {
      const fused = noGrad(() => withFusion(true, () => model.forward(x)));
      expect([fusedCalls.mock.calls.length, poolCalls.mock.calls.length]).toEqual([1, 0]);
      const plain = noGrad(() => withFusion(false, () => model.forward(x)));
      expectClose(values(fused), values(plain), "output", 1e-5, 1e-4);
      // With gradients the fused operator would keep the arg-max, which F(4×4, 3×3) does not record: conv + BatchNorm + ReLU fused, pool apart.
      const graded = withFusion(true, () => model.forward(x));
      const functions = functionsOf(graded);
      expect(functions).toContain("Conv2dReluFunction");
      expect(functions).toContain("MaxPool2dFunction");
      expect(functions).not.toContain("Conv2dReluMaxPool2dFunction");
      expectClose(values(graded), values(plain), "output with gradients", 1e-5, 1e-4);
    } finally {
      fusedCalls.mockRestore();
      poolCalls.mockRestore();
    }
  });

  it("a pattern declines what it does not cover: a BatchNorm without running statistics is not folded in evaluation", () => {
    const model = new Sequential(new Conv2d(2, 3, 3, { generator: new Generator(1) }), new BatchNorm2d(3, { trackRunningStats: false }), new ReLU());
    model.eval();
    const x = Tensor.randn([2, 2, 5, 5], { generator: new Generator(2) });
    const fused = withFusion(true, () => model.forward(x));
    expect(functionsOf(fused)).toContain("BatchNorm");
    expectClose(values(fused), values(withFusion(false, () => model.forward(x))), "output", 1e-5, 1e-4);
  });

  it("training: Conv2d → BatchNorm2d (→ ReLU) tells the BatchNorm's forward to leave its input gradient for the convolution, only where neither module keeps a reference", () => {
    // A subclass without its own keepsNoReferences declaration may keep the output: no hand-off.
    class KeepingConv2d extends Conv2d {}
    const forwards = vi.spyOn(BatchNorm, "forward");
    try {
      const handOffs = (conv: Conv2d, relu: boolean): unknown[] => {
        forwards.mockClear();
        const model = relu ? new Sequential(conv, new BatchNorm2d(4), new ReLU()) : new Sequential(conv, new BatchNorm2d(4));
        withFusion(true, () => model.forward(Tensor.randn([2, 3, 6, 6], { generator: new Generator(3) })));
        return forwards.mock.calls.map((call) => (call[4] as { handOffGradInput?: boolean }).handOffGradInput);
      };
      expect(handOffs(new Conv2d(3, 4, 3, { padding: 1 }), true)).toEqual([true]);
      expect(handOffs(new Conv2d(3, 4, 3, { padding: 1 }), false)).toEqual([true]);
      expect(handOffs(new KeepingConv2d(3, 4, 3, { padding: 1 }), true)).toEqual([false]);
      forwards.mockClear();
      batchNorm(Tensor.randn([2, 4, 3, 3], { generator: new Generator(5) }), null, null, { training: true });
      expect(forwards.mock.calls.map((call) => (call[4] as { handOffGradInput?: boolean }).handOffGradInput)).toEqual([false]);
    } finally {
      forwards.mockRestore();
    }
    expect(() => batchNorm(Tensor.randn([2, 4, 3, 3]), null, null, { training: true, handOffGradInput: 1 as unknown as boolean })).toThrow(
      "batchNorm: handOffGradInput must be a boolean, but got number 1",
    );
  });
});
