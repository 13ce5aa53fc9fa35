import { ArgumentError, Generator, Tensor, kernels, noGrad } from "@pico/core";
import { describe, expect, it } from "vitest";
import { linear } from "../functional/linear.js";
import { referenceCnn } from "../test-utils/reference-cnn.js";
import { expectClose, values } from "../test-utils/tensors.js";
import { Conv2d } from "./conv2d.js";
import { Flatten } from "./flatten.js";
import { Linear } from "./linear.js";
import { MaxPool2d } from "./max-pool2d.js";
import { ReLU } from "./relu.js";
import { Sequential } from "./sequential.js";

describe("Sequential", () => {
  it("feeds each module's output to the next", () => {
    const generator = new Generator(1);
    const a = new Linear(3, 4, { generator });
    const b = new Linear(4, 2, { generator });
    const seq = new Sequential(a, new ReLU(), b);
    const x = Tensor.randn([5, 3]);
    expect(values(seq.forward(x))).toEqual(values(linear(linear(x, a.weight, a.bias).relu(), b.weight, b.bias)));
    expect(values(seq.call(x))).toEqual(values(seq.forward(x)));
  });

  it("appends, indexes and nests", () => {
    const inner = new Sequential(new Linear(2, 2));
    const seq = new Sequential().append(inner).append(new ReLU());
    expect(seq.length).toBe(2);
    expect(seq.at(0)).toBe(inner);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(["0.0.weight", "0.0.bias"]);
    expect(() => seq.at(2)).toThrow("Sequential.at: index must be an integer in [-2, 1], but got 2");
    expect(() => new Sequential(3 as unknown as ReLU)).toThrow(ArgumentError);
  });

  it("an empty Sequential is the identity", () => {
    const x = Tensor.ones([2]);
    expect(new Sequential().forward(x)).toBe(x);
  });
});

describe("Sequential fusion of Conv2d → ReLU → MaxPool2d", () => {
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
    return names.sort();
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

  /** Output, and every parameter's and the input's gradient, of sum(v · model(x)), as plain numbers. */
  function run(model: Sequential, x: Tensor, fusion: boolean): { out: number[]; grads: number[][]; functions: string[] } {
    return withFusion(fusion, () => {
      model.zeroGrad();
      x.zeroGrad();
      const y = model.forward(x);
      const functions = functionsOf(y);
      y.mul(Tensor.randn(y.shape, { generator: new Generator(5) })).sum().backward();
      return { out: values(y), grads: [x, ...model.parameters()].map((p) => values(p.grad!)), functions };
    });
  }

  /** Runs `f` with the given kernels selected, then the default ones again. */
  function withKernels<T>(choice: kernels.KernelChoice, f: () => T): T {
    kernels.useKernels(choice);
    try {
      return f();
    } finally {
      kernels.useKernels("wasm");
    }
  }

  for (const [mode, choice] of [["train", "js"], ["eval", "js"], ["train", "wasm"], ["eval", "wasm"]] as const) {
    const exact = choice === "js";
    it(`the reference network, fused and unfused: same output bits, ${exact ? "same" : "float32-close"} gradients (${mode} mode, ${choice} kernels)`, () => {
      const model = referenceCnn(new Generator(3));
      model.train(mode === "train");
      const x = Tensor.randn([6, 1, 28, 28], { generator: new Generator(4), requiresGrad: true });
      const [fused, plain] = withKernels(choice, () => [run(model, x, true), run(model, x, false)]);
      expect(fused.functions.filter((f) => f === "Conv2dReluMaxPool2dFunction")).toHaveLength(2);
      expect(plain.functions).not.toContain("Conv2dReluMaxPool2dFunction");
      expect(fused.out).toEqual(plain.out);
      fused.grads.forEach((g, i) => {
        if (exact) expect(g, `gradient ${i}`).toEqual(plain.grads[i]);
        else expectClose(g, plain.grads[i]!, `gradient ${i}`, 1e-6, 1e-4);
      });
      // Under noGrad the fused operator pools without arg-max, and with the wasm kernels the second
      // convolution (8 input channels, 5×5) goes through Winograd's algorithm: float32-close, not the same bits.
      const probe = Tensor.randn([3, 1, 28, 28], { generator: new Generator(6) });
      const [inferred, unfused] = withKernels(choice, () => [true, false].map((fusion) => values(noGrad(() => withFusion(fusion, () => model.forward(probe))))));
      if (exact) expect(inferred).toEqual(unfused);
      else expectClose(inferred!, unfused!, "inference output", 1e-5, 1e-4);
    });
  }

  it("fuses padded, strided, dilated, grouped convolutions and symmetric 'same' padding; leaves other runs alone", () => {
    const generator = new Generator(8);
    const x = Tensor.randn([2, 4, 11, 10], { generator, dtype: "float64", requiresGrad: true });
    const conv = (options: ConstructorParameters<typeof Conv2d>[3]) => new Conv2d(4, 6, 3, { ...options, dtype: "float64", generator });
    // A subclass that keeps ReLU's forward computes ReLU and fuses; one with its own forward never does.
    class MyReLU extends ReLU {}
    class LoudReLU extends ReLU {
      override forward(input: Tensor): Tensor {
        return super.forward(input);
      }
    }
    const models: [Sequential, number][] = [
      [new Sequential(conv({ padding: 1, stride: [2, 1], dilation: [1, 2], groups: 2 }), new ReLU(), new MaxPool2d(3, { stride: 1, padding: 1 })), 1],
      [new Sequential(conv({ padding: "same" }), new ReLU(), new MaxPool2d(2), new Flatten()), 1],
      [new Sequential(new Conv2d(4, 6, 2, { padding: "same", dtype: "float64", generator }), new ReLU(), new MaxPool2d(2)), 0],
      [new Sequential(conv({}), new MyReLU(), new MaxPool2d(2)), 1],
      [new Sequential(conv({}), new LoudReLU(), new MaxPool2d(2)), 0],
      [new Sequential(conv({}), new MaxPool2d(2), new ReLU()), 0],
    ];
    for (const [model, fusions] of models) {
      const fused = run(model, x, true);
      const plain = run(model, x, false);
      expect(fused.functions.filter((f) => f === "Conv2dReluMaxPool2dFunction")).toHaveLength(fusions);
      expect(fused.out).toEqual(plain.out);
      fused.grads.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(plain.grads[i]));
    }
  });

  it("inputs the modules reject get the modules' errors", () => {
    const model = new Sequential(new Conv2d(3, 4, 3), new ReLU(), new MaxPool2d(2, { padding: 1 }));
    expect(() => model.forward(Tensor.randn([1, 2, 8, 8]))).toThrow("Conv2d: expected input with 3 channels [N, 3, H, W], but got shape [1, 2, 8, 8]");
    expect(() => model.forward(Tensor.randn([1, 3, 2, 8]))).toThrow(/^Conv2d: input of height × width 2 × 8/);
    expect(() => new Sequential(new Conv2d(3, 4, 3), new ReLU(), new MaxPool2d(5)).forward(Tensor.randn([1, 3, 6, 6]))).toThrow(/^MaxPool2d: input of height × width 4 × 4/);
  });
});
