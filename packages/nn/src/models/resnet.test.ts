import { Generator, Tensor, noGrad } from "@pico/core";
import { describe, expect, it } from "vitest";
import { CifarNet } from "./cifar-net.js";
import { BasicBlock, ResNet, resnet20, resnet8 } from "./resnet.js";

describe("ResNet", () => {
  it("maps 28x28 and 32x32 images to logits; ResNet-8 and -20 have He et al.'s parameter counts", () => {
    const r8 = resnet8({ generator: new Generator(1) });
    expect(r8.numParameters()).toBe(77_754);
    expect(resnet20().numParameters()).toBe(272_186);
    expect(resnet20({ inChannels: 3 }).numParameters()).toBe(272_186 + 16 * 9 * 2);
    expect(noGrad(() => r8.forward(Tensor.randn([2, 1, 28, 28]))).shape).toEqual([2, 10]);
    const cifar = resnet8({ inChannels: 3, numClasses: 100, widths: [8, 16, 32] });
    expect(noGrad(() => cifar.eval().forward(Tensor.randn([1, 3, 32, 32]))).shape).toEqual([1, 100]);
  });

  it("uses torchvision's module names, a downsampling shortcut only where the shape changes", () => {
    const keys = Object.keys(resnet8().stateDict());
    expect(keys.slice(0, 6)).toEqual(["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]);
    expect(keys).toContain("layer2.0.downsample.0.weight");
    expect(keys).toContain("layer3.0.downsample.1.running_var");
    expect(keys.some((k) => k.startsWith("layer1.0.downsample"))).toBe(false);
    expect(keys.slice(-2)).toEqual(["fc.weight", "fc.bias"]);
    expect(new BasicBlock(4, 4).downsample).toBeNull();
    expect(new BasicBlock(4, 8).downsample).not.toBeNull();
  });

  it("draws the same weights from the same seeded generator", () => {
    const a = resnet8({ generator: new Generator(3) }).stateDict();
    const b = resnet8({ generator: new Generator(3) }).stateDict();
    for (const [k, t] of Object.entries(a)) expect(b[k]!.toArray()).toEqual(t.toArray());
  });

  it("halves the resolution in layer2 and layer3, rounding up as a stride-2 convolution does", () => {
    const model = resnet8();
    const x = Tensor.randn([2, 1, 7, 7]);
    noGrad(() => {
      const h1 = model.layer1.forward(model.bn1.forward(model.conv1.forward(x)));
      const h2 = model.layer2.forward(h1);
      expect(h2.shape).toEqual([2, 32, 4, 4]);
      expect(model.layer3.forward(h2).shape).toEqual([2, 64, 2, 2]);
    });
  });

  it("refuses depths that are not 6n + 2 and bad widths, naming the rule", () => {
    expect(() => new ResNet({ depth: 18 })).toThrow("ResNet: depth must be 6n + 2 for a whole n >= 1 (8, 14, 20, 32, ...), but got 18");
    expect(() => new ResNet({ depth: 2 })).toThrow(/depth must be 6n \+ 2/);
    expect(() => new ResNet({ widths: [16, 32] as unknown as [number, number, number] })).toThrow("ResNet: widths must list 3 channel counts, but got [16,32]");
    expect(() => new ResNet({ widths: [16, 0, 4] })).toThrow(/ResNet: widths\[1\]/);
    expect(() => new ResNet({ dept: 8 } as never)).toThrow(/ResNet: unknown option "dept"/);
    expect(() => new BasicBlock(4, 4, 0)).toThrow(/BasicBlock: stride/);
  });
});

describe("CifarNet", () => {
  it("has issue 11's 178,410 parameters under the benchmark's names and maps [N, 3, 32, 32] to 10 logits", () => {
    const model = new CifarNet({ generator: new Generator(2) });
    expect(model.numParameters()).toBe(178_410);
    const keys = Object.keys(model.stateDict());
    expect(keys).toContain("features.10.conv1.weight");
    expect(keys).toContain("features.13.running_mean");
    expect(keys.slice(-2)).toEqual(["classifier.weight", "classifier.bias"]);
    expect(noGrad(() => model.forward(Tensor.randn([2, 3, 32, 32]))).shape).toEqual([2, 10]);
    expect(noGrad(() => new CifarNet({ inChannels: 1 }).forward(Tensor.randn([2, 1, 28, 28]))).shape).toEqual([2, 10]);
  });
});
