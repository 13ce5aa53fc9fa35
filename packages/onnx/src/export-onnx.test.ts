import { Function, Generator, Tensor, tensor, type Context, type NDArray, type TraceTarget } from "@pico/core";
import { BatchNorm1d, Conv2d, Dropout, F, LeakyReLU, Linear, Module, ReLU, Sequential, Sigmoid, Tanh, referenceCnn, resnet8, type AnyModule } from "@pico/nn";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "./export-onnx.js";
import { onnx } from "./onnx-proto.js";
import { registerOnnx } from "./registry.js";

const gen = new Generator(7);

function randn(shape: number[]): Tensor {
  return Tensor.randn(shape, { generator: gen });
}

/** Runs exported bytes in onnxruntime-node and returns the first output's values. */
async function runOrt(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<{ data: Float32Array | Float64Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype === "float64" ? "float64" : "float32", t.toTypedArray(), t.shape);
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]!]!;
  return { data: out.data as Float32Array, dims: out.dims };
}

/** Exports `model` at `x`'s shape, runs it in onnxruntime and expects Pico's eval output to 1e-5. */
async function expectSameAsOrt(model: TraceTarget & { eval?(): unknown; training?: boolean }, x: Tensor): Promise<Uint8Array> {
  const mode = model.training;
  const bytes = exportOnnx(model, x);
  expect(model.training).toBe(mode);
  model.eval?.();
  const expected = (typeof model === "function" ? model(x) : model.call!(x)) as Tensor;
  const got = await runOrt(bytes, { input: x });
  expect(got.dims).toEqual(expected.shape);
  const want = expected.toTypedArray();
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  expect(worst).toBeLessThan(1e-5);
  return bytes;
}

/** Running statistics and affine parameters away from their initial 0/1, so that evaluation BatchNorm does something. */
function randomizeBatchNorms(model: AnyModule): void {
  for (const [name, t] of [...model.namedBuffers(), ...model.namedParameters()]) {
    if (name.endsWith("running_var")) t.data.data.set(Float32Array.from({ length: t.size }, () => 0.5 + gen.random()));
    else if (name.endsWith("running_mean") || (/bn|\.1\./.test(name) && t.ndim === 1)) t.data.data.set(Float32Array.from({ length: t.size }, () => gen.random() - 0.5));
  }
}

describe("exportOnnx against onnxruntime-node", () => {
  for (const batch of [1, 7]) {
    it(`the reference network (fused conv+relu+maxpool), batch ${batch}`, async () => {
      const model = referenceCnn(new Generator(1));
      const bytes = await expectSameAsOrt(model, randn([batch, 1, 28, 28]));
      const decoded = onnx.ModelProto.decode(bytes);
      expect(Number(decoded.opsetImport[0]!.version)).toBe(13);
      expect((decoded.graph!.node ?? []).map((n) => n.opType)).toEqual(["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Identity"]);
      // Weights by their module names; the linear layers' Gemm reads its weight transposed (transB), as torch's export of Linear.
      const initializers = decoded.graph!.initializer ?? [];
      const init = new Map(initializers.map((t) => [t.name, (t.dims ?? []).map(Number)]));
      expect(init.get("0.weight")).toEqual([8, 1, 5, 5]);
      expect(init.get("7.weight")).toEqual([120, 256]);
      const gemms = (decoded.graph!.node ?? []).filter((n) => n.opType === "Gemm");
      expect(gemms.map((n) => (n.attribute ?? []).find((a) => a.name === "transB")?.i).map(Number)).toEqual([1, 1]);
      expect(initializers.reduce((n, t) => n + (t.dims ?? []).map(Number).reduce((a, b) => a * b, 1), 0)).toBe(35_474);
    });

    it(`an MLP with dropout, LeakyReLU, Sigmoid, Tanh, BatchNorm1d and log-softmax, batch ${batch}`, async () => {
      const model = new Sequential(
        new Linear(20, 32, { generator: gen }), new BatchNorm1d(32), new LeakyReLU(0.2), new Dropout(0.5),
        new Linear(32, 16, { generator: gen }), new Sigmoid(), new Linear(16, 16, { generator: gen }), new Tanh(), new Linear(16, 5, { generator: gen }),
      );
      randomizeBatchNorms(model);
      model.eval();
      await expectSameAsOrt((x: Tensor) => model.call(x).logSoftmax(1), randn([batch, 20]));
    });

    it(`ResNet-8 (BatchNorm folded into convolutions, residual add+relu, global mean), batch ${batch}`, async () => {
      const model = resnet8({ widths: [4, 8, 8], generator: new Generator(3) });
      randomizeBatchNorms(model);
      model.train();
      await expectSameAsOrt(model, randn([batch, 1, 12, 12]));
    });
  }

  it("covers pooling, concatenation, transposes, reductions, softmax, clamp, slices and padding", async () => {
    const conv = new Conv2d(3, 4, 3, { stride: 2, padding: 1, dilation: 1, groups: 1, generator: gen });
    const grouped = new Conv2d(4, 4, 3, { padding: 2, dilation: 2, groups: 2, generator: gen });
    const fn = (x: Tensor): Tensor => {
      const a = grouped.call(conv.call(x)).relu();
      const pooled = F.avgPool2d(a, 2, { padding: 1, countIncludePad: false });
      const maxed = F.maxPool2d(a, 3, { stride: 2, padding: 1 });
      const both = Tensor.cat([pooled, maxed], 1);
      const mean = both.mean([2, 3]);
      const t = both.flatten(1).transpose().sum(0, true).div(100);
      const head = mean.softmax(1).add(mean.sub(1).exp().clamp(0, 2)).sqrt();
      const tail = t.expand(head.shape[0]!, 2).pad([0, 1], 0.5).permute(1, 0).reshape(2, -1);
      return Tensor.cat([head, tail.slice(1, 0, 2)], 1).mul(2).abs().neg().maximum(tensor(-3)).max(1);
    };
    const bytes = await expectSameAsOrt(fn, randn([2, 3, 9, 9]));
    const opTypes = new Set((onnx.ModelProto.decode(bytes).graph!.node ?? []).map((n) => n.opType));
    for (const op of ["Conv", "AveragePool", "MaxPool", "Concat", "ReduceSum", "Div", "Softmax", "Clip", "Slice", "Pad", "Expand", "Transpose", "Reshape", "ReduceMax", "Max", "Abs", "Neg", "Sqrt", "Exp"]) {
      expect(opTypes, op).toContain(op);
    }
  });

  it("exports float64 models as DOUBLE", async () => {
    const model = new Sequential(new Linear(4, 3, { generator: gen }), new ReLU()).to("float64");
    const bytes = await expectSameAsOrt(model, randn([2, 4]).to("float64"));
    expect(onnx.ModelProto.decode(bytes).graph!.input![0]!.type!.tensorType!.elemType).toBe(onnx.TensorProto.DataType.DOUBLE);
  });
});

class Cube extends Function {
  static override forward(ctx: Context, x: NDArray): NDArray {
    const out = Tensor.prototype.mul.call(new Tensor(x), new Tensor(x)).data;
    ctx.saveForBackward(x);
    return Tensor.prototype.mul.call(new Tensor(out), new Tensor(x)).data;
  }
  static override backward(ctx: Context, g: NDArray): NDArray {
    return g;
  }
}

class CubeNet extends Module<[Tensor], Tensor> {
  forward(x: Tensor): Tensor {
    return Cube.apply(x).add(1);
  }
}

describe("custom Functions", () => {
  it("are refused with their name and how to add a mapping, then exported once registered", async () => {
    const x = randn([2, 3]);
    expect(() => exportOnnx(new CubeNet(), x)).toThrow(
      'exportOnnx: Function Cube (node cube) has no ONNX mapping; register one before exporting: registerOnnx(Cube, (ctx) => ctx.add("OnnxOp", [ctx.arg(0)], [ctx.output], { attribute: 1 })) from @pico/onnx',
    );
    registerOnnx(Cube, (ctx) => ctx.add("Pow", [ctx.arg(0), ctx.constant(tensor(3).data)], [ctx.output]));
    await expectSameAsOrt(new CubeNet(), x);
  });

  it("refuses a BatchNorm in training mode inside a plain function", () => {
    const bn = new BatchNorm1d(3);
    expect(() => exportOnnx((x: Tensor) => bn.call(x), randn([4, 3]))).toThrow(/BatchNorm \(node batch_norm\) normalises with the batch's statistics \(training mode\); call model.eval\(\)/);
  });
});
