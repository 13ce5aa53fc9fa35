import { ArgumentError, Generator, ShapeError, Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { BatchNorm1d } from "./layers/batch-norm1d.js";
import { Conv2d } from "./layers/conv2d.js";
import { Dropout } from "./layers/dropout.js";
import { Flatten } from "./layers/flatten.js";
import { Linear } from "./layers/linear.js";
import { MaxPool2d } from "./layers/max-pool2d.js";
import { ReLU } from "./layers/relu.js";
import { Sequential } from "./layers/sequential.js";
import { Module, type AnyModule } from "./module.js";
import { Parameter } from "./parameter.js";
import { values } from "./test-utils/tensors.js";

class Net extends Module {
  features: Sequential;
  head: Linear;
  scale: Parameter;
  notAParameter: Tensor;

  constructor(seed = 0) {
    const generator = new Generator(seed);
    super();
    this.features = new Sequential(new Linear(4, 3, { generator }), new ReLU(), new BatchNorm1d(3));
    this.head = new Linear(3, 2, { generator });
    this.scale = new Parameter(Tensor.ones([1]));
    this.notAParameter = Tensor.zeros([5]);
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x)).mul(this.scale);
  }
}

describe("Module registration and naming", () => {
  it("finds sub-modules and parameters assigned as properties, with dotted names in order", () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      "scale",
      "features.0.weight",
      "features.0.bias",
      "features.2.weight",
      "features.2.bias",
      "head.weight",
      "head.bias",
    ]);
    expect(net.parameters().every((p) => p instanceof Parameter && p.requiresGrad && p.retain)).toBe(true);
    expect(net.namedChildren().map(([n]) => n)).toEqual(["features", "head"]);
    expect(net.children()).toEqual([net.features, net.head]);
    expect(net.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`)).toEqual([
      ":Net",
      "features:Sequential",
      "features.0:Linear",
      "features.1:ReLU",
      "features.2:BatchNorm1d",
      "head:Linear",
    ]);
    expect(net.modules()).toHaveLength(6);
    expect(net.namedParameters({ recurse: false }).map(([n]) => n)).toEqual(["scale"]);
  });

  it("lists buffers (BatchNorm running statistics) apart from parameters, and ignores plain tensors", () => {
    const net = new Net();
    expect(net.namedBuffers().map(([n]) => n)).toEqual(["features.2.running_mean", "features.2.running_var", "features.2.num_batches_tracked"]);
    expect(net.buffers()).toHaveLength(3);
    expect(net.parameters()).not.toContain(net.notAParameter);
  });

  it("names a Sequential's parameters 0.weight, 0.bias, ...", () => {
    const seq = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1, { bias: false }));
    expect(seq.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias", "2.weight"]);
    expect(seq.length).toBe(3);
    expect(seq.at(-1)).toBeInstanceOf(Linear);
    expect([...seq].map((m) => m.constructor.name)).toEqual(["Linear", "ReLU", "Linear"]);
  });

  it("registers explicitly with computed names, and counts a shared parameter once", () => {
    class Tied extends Module {
      constructor() {
        super();
        const shared = new Linear(3, 3);
        for (let i = 0; i < 2; i++) this.registerModule(`block${i}`, shared);
        this.registerParameter("gain", new Parameter(Tensor.ones([3])));
        this.registerBuffer("steps", Tensor.zeros([1]));
        this.registerBuffer("cache", Tensor.zeros([2]), { persistent: false });
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(["gain", "block0.weight", "block0.bias"]);
    expect(m.numParameters()).toBe(3 + 9 + 3);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(["steps", "cache"]);
    expect(Object.keys(m.stateDict())).toEqual(["gain", "steps", "block0.weight", "block0.bias", "block1.weight", "block1.bias"]);
  });

  it("refuses bad registrations with the module and the rule in the message", () => {
    const net = new Net();
    expect(() => net.registerParameter("w", Tensor.ones([1]) as Parameter)).toThrow(ArgumentError);
    expect(() => net.registerParameter("w", Tensor.ones([1]) as Parameter)).toThrow('Net.registerParameter: "w" must be a Parameter or null, but got Tensor');
    expect(() => net.registerBuffer("a.b", Tensor.ones([1]))).toThrow('Net.registerBuffer: name must be a non-empty string without ".", but got "a.b"');
    expect(() => net.registerModule("forward", new ReLU())).toThrow('Net.registerModule: name "forward" collides with a method or accessor of Net');
    expect(() => net.registerBuffer("p", new Parameter(Tensor.ones([1])))).toThrow("must be a Tensor (not a Parameter)");
  });

  it("children() and modules() go through namedChildren, as torch's children() through named_children(): a subclass's override holds for all three", () => {
    // Lists its head before its features, and hides the features' ReLU from every traversal.
    class Reordered extends Net {
      override namedChildren(): [string, AnyModule][] {
        return [["head", this.head], ["features", this.features]];
      }
    }
    class HidingSequential extends Sequential {
      override namedChildren(): [string, AnyModule][] {
        return super.namedChildren().filter(([, m]) => !(m instanceof ReLU));
      }
    }
    const net = new Reordered();
    const [lin, relu, bn] = [...net.features] as [Linear, ReLU, BatchNorm1d];
    net.features = new HidingSequential(lin, relu, bn);
    expect(net.children()).toEqual(net.namedChildren().map(([, m]) => m));
    expect(net.children()).toEqual([net.head, net.features]);
    expect(net.features.children()).toEqual([lin, bn]);
    expect(net.modules()).toEqual(net.namedModules().map(([, m]) => m));
    expect(net.modules()).toEqual([net, net.head, net.features, lin, bn]);
    net.eval();
    expect([net.training, lin.training, bn.training, relu.training]).toEqual([false, false, false, true]);
    // What the container computes with is what was registered, as torch's Sequential iterates _modules.
    const hiding = new HidingSequential(new Flatten(), new ReLU());
    expect(hiding.length).toBe(2);
    expect(hiding.at(1)).toBeInstanceOf(ReLU);
    expect(values(hiding.forward(tensor([[-3, 1], [2, -5]])))).toEqual([0, 1, 2, 0]);
  });
});

describe("Module modes and gradients", () => {
  it("train() and eval() switch every sub-module", () => {
    const net = new Net();
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.features.at(2).training).toBe(true);
    net.train(false);
    expect(net.head.training).toBe(false);
  });

  it("train() and eval() reach a module registered twice once, a sub-tree switched on its own, and a module that refers back to an ancestor", () => {
    const shared = new ReLU();
    const inner = new Sequential(new Linear(2, 2), shared);
    const outer = new Sequential(inner, shared);
    const all = [outer, inner, inner.at(0), shared];
    expect(outer.modules()).toEqual(all);
    outer.eval();
    expect(all.map((m) => m.training)).toEqual([false, false, false, false]);
    inner.train();
    expect(all.map((m) => m.training)).toEqual([false, true, true, true]);
    outer.train();
    expect(all.map((m) => m.training)).toEqual([true, true, true, true]);
    // A cycle: the walk from inner now reaches outer too, and ends.
    (inner.at(0) as unknown as { owner: Module<[Tensor], Tensor> }).owner = outer;
    inner.eval();
    expect(all.map((m) => m.training)).toEqual([false, false, false, false]);
    expect(inner.modules()).toEqual([inner, inner.at(0), outer, shared]);
  });

  it("zeroGrad() clears every parameter's gradient", () => {
    const net = new Net();
    net.forward(Tensor.randn([4, 4])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it("zeroGrad({ setToNone: false }) fills every gradient with zeros in its own array (torch 1.13's zero_grad default)", () => {
    const net = new Net();
    net.forward(Tensor.randn([4, 4])).sum().backward();
    const arrays = net.parameters().map((p) => p.grad!.data.data);
    net.zeroGrad({ setToNone: false });
    net.parameters().forEach((p, i) => {
      expect(p.grad!.data.data).toBe(arrays[i]);
      expect(Array.from(p.grad!.data.data).every((v) => v === 0)).toBe(true);
    });
    net.zeroGrad({ setToNone: true });
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    net.zeroGrad({ setToNone: false });
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it("zeroGrad refuses a misspelt option, a non-boolean setToNone and a non-object, leaving the gradients", () => {
    const net = new Net();
    net.forward(Tensor.randn([4, 4])).sum().backward();
    const grads = net.parameters().map((p) => p.grad);
    const zeroGrad = net.zeroGrad.bind(net) as (options?: unknown) => void;
    expect(() => zeroGrad({ setToNoen: false })).toThrow(new ArgumentError('Net.zeroGrad: unknown option "setToNoen"; the options are setToNone'));
    expect(() => zeroGrad({ setToNone: 0 })).toThrow(new ArgumentError("Net.zeroGrad: setToNone must be true or false, but got 0"));
    expect(() => zeroGrad(true)).toThrow(new ArgumentError("Net.zeroGrad: options must be an object like { setToNone: false }, but got true"));
    expect(net.parameters().map((p) => p.grad)).toEqual(grads);
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
  });

  it("apply(fn) visits children first, then the module", () => {
    const seen: string[] = [];
    new Sequential(new Linear(1, 1), new ReLU()).apply((m) => seen.push(m.constructor.name));
    expect(seen).toEqual(["Linear", "ReLU", "Sequential"]);
  });

  it("to(dtype) converts parameters and buffers in place", () => {
    const net = new Net();
    net.forward(Tensor.randn([3, 4])).sum().backward();
    const p = net.head.weight;
    const before = values(p);
    net.to("float64");
    expect(p.grad!.dtype).toBe("float64");
    expect(net.head.weight).toBe(p);
    expect(p.dtype).toBe("float64");
    expect(net.features.at(2).buffers().every((b) => b.dtype === "float64")).toBe(true);
    expect(values(p)).toEqual(before);
  });
});

describe("stateDict and loadStateDict", () => {
  it("lists parameters then buffers per module, recursively, in PyTorch's order", () => {
    expect(Object.keys(new Net().stateDict())).toEqual([
      "scale",
      "features.0.weight",
      "features.0.bias",
      "features.2.weight",
      "features.2.bias",
      "features.2.running_mean",
      "features.2.running_var",
      "features.2.num_batches_tracked",
      "head.weight",
      "head.bias",
    ]);
  });

  it("round-trips: a model loaded from another's state dict computes the same outputs", () => {
    const a = new Net(1);
    a.forward(Tensor.randn([8, 4])); // moves a's running statistics away from their initial values
    const b = new Net(2);
    const x = Tensor.randn([5, 4]);
    a.eval();
    b.eval();
    expect(values(b.forward(x))).not.toEqual(values(a.forward(x)));
    const weightBefore = b.head.weight;
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.head.weight).toBe(weightBefore);
    expect(values(b.forward(x))).toEqual(values(a.forward(x)));
    expect(values(b.features.at(2).buffers()[0]!)).toEqual(values(a.features.at(2).buffers()[0]!));
  });

  it("loads the camelCase BatchNorm keys of older Pico files into PyTorch's keys", () => {
    const a = new Net(1);
    a.forward(Tensor.randn([8, 4]));
    const legacy: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(a.stateDict())) {
      legacy[k.replace("running_mean", "runningMean").replace("running_var", "runningVar").replace("num_batches_tracked", "numBatchesTracked")] = t;
    }
    expect(Object.keys(legacy)).toContain("features.2.runningMean");
    const b = new Net(2);
    expect(b.loadStateDict(legacy)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const bn = b.features.at(2) as BatchNorm1d;
    expect(values(bn.running_mean!)).toEqual(values((a.features.at(2) as BatchNorm1d).running_mean!));
    expect(bn.numBatchesTracked!.item()).toBe(1);
    // Where both spellings are present, the camelCase one is an unexpected key like any other.
    expect(() => b.loadStateDict({ ...a.stateDict(), "features.2.runningMean": Tensor.zeros([3]) })).toThrow('unexpected key "features.2.runningMean"');
  });

  it("copies values (the loaded model does not share memory with the dict)", () => {
    const a = new Linear(2, 2);
    const b = new Linear(2, 2);
    const dict = a.stateDict();
    b.loadStateDict(dict);
    dict["weight"]!.data.data[0] = 123;
    expect(b.weight.data.data[0]).not.toBe(123);
    expect(a.weight.data.data[0]).toBe(123);
  });

  it("accepts float64 and strided tensors", () => {
    const m = new Linear(3, 2);
    const w = tensor([[1, 2], [3, 4], [5, 6]], { dtype: "float64" }).transpose();
    m.loadStateDict({ weight: w, bias: tensor([7, 8]) });
    expect(values(m.weight)).toEqual([1, 3, 5, 2, 4, 6]);
  });

  it("strict: refuses missing and unexpected keys, naming each key and shape", () => {
    const m = new Sequential(new Linear(3, 2), new ReLU(), new Linear(2, 1));
    const dict = m.stateDict();
    delete dict["2.bias"];
    dict["3.weight"] = Tensor.zeros([4, 4]);
    expect(() => m.loadStateDict(dict)).toThrow(ArgumentError);
    expect(() => m.loadStateDict(dict)).toThrow('missing key "2.bias" (the model expects shape [1])');
    expect(() => m.loadStateDict(dict)).toThrow('unexpected key "3.weight" (shape [4, 4]), which the model does not have');
    expect(m.loadStateDict(dict, { strict: false })).toEqual({ missingKeys: ["2.bias"], unexpectedKeys: ["3.weight"] });
  });

  it("refuses a wrong shape even when not strict, naming the key and both shapes, and loads nothing", () => {
    const m = new Sequential(new Linear(3, 2));
    const before = values(m.at(0).parameters()[1]!);
    const dict = { "0.weight": Tensor.zeros([2, 4]), "0.bias": Tensor.ones([2]) };
    expect(() => m.loadStateDict(dict, { strict: false })).toThrow(ShapeError);
    expect(() => m.loadStateDict(dict)).toThrow('size mismatch for "0.weight": the state dict has shape [2, 4], the model has shape [2, 3]');
    expect(values(m.at(0).parameters()[1]!)).toEqual(before);
  });
});

describe("printing", () => {
  it("toString() nests like PyTorch's repr", () => {
    const model = new Sequential(new Conv2d(1, 8, 5), new ReLU(), new MaxPool2d(2), new Flatten(), new Dropout(0.25), new Linear(8, 2));
    expect(model.toString()).toBe(
      [
        "Sequential(",
        "  (0): Conv2d(1, 8, kernelSize=(5, 5), stride=(1, 1))",
        "  (1): ReLU()",
        "  (2): MaxPool2d(kernelSize=(2, 2), stride=(2, 2), padding=(0, 0))",
        "  (3): Flatten(startDim=1, endDim=-1)",
        "  (4): Dropout(p=0.25)",
        "  (5): Linear(inFeatures=8, outFeatures=2, bias=true)",
        ")",
      ].join("\n"),
    );
    expect(new Net().toString()).toContain("Net(\n  (features): Sequential(\n    (0): Linear(inFeatures=4, outFeatures=3, bias=true)");
  });

  it("summary() adds total and trainable parameter counts", () => {
    const model = new Sequential(new Linear(256, 120), new ReLU(), new Linear(120, 10));
    model.at(2).parameters()[1]!.requiresGrad = false;
    const lines = model.summary().split("\n");
    expect(lines.slice(-3)).toEqual(["Total params: 32,050", "Trainable params: 32,040", "Non-trainable params: 10"]);
    expect(model.numParameters()).toBe(256 * 120 + 120 + 120 * 10 + 10);
  });
});
