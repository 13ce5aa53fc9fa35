import { Generator, Tensor, type TraceTarget } from "@pico/core";
import { BatchNorm1d, Linear, Sequential, Tanh, referenceCnn, resnet8 } from "@pico/nn";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "./export-onnx.js";
import { onnx } from "./onnx-proto.js";
import { maxRelativeDifference, runOrt } from "./test-utils/ort.js";

// exportOnnx(..., { dynamicBatch: true }): one file for every batch size, checked in onnxruntime-node
// at batch sizes other than the example's against Pico's eager output.

const gen = new Generator(5);

async function expectEveryBatch(target: TraceTarget, sample: number[], exportBatch: number, runBatches: number[]): Promise<Uint8Array> {
  const bytes = exportOnnx(target, Tensor.randn([exportBatch, ...sample], { generator: gen }), { dynamicBatch: true });
  for (const batch of runBatches) {
    const x = Tensor.randn([batch, ...sample], { generator: gen });
    const want = (typeof target === "function" ? target(x) : (target as { call(x: Tensor): Tensor }).call(x)) as Tensor;
    const got = await runOrt(bytes, { input: x });
    expect(got.dims).toEqual(want.shape);
    expect(maxRelativeDifference(got.data, want.toTypedArray())).toBeLessThan(1e-5);
  }
  return bytes;
}

describe("exportOnnx with dynamicBatch", () => {
  it("the reference network exported at batch 2 runs at batch 1, 5 and 64; input and output axis 0 are 'batch'", async () => {
    const model = referenceCnn(new Generator(1));
    model.eval();
    const bytes = await expectEveryBatch(model, [1, 28, 28], 2, [1, 5, 64]);
    const graph = onnx.ModelProto.decode(bytes).graph!;
    expect(graph.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch", 1, 28, 28]);
    expect(graph.output![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch", 10]);
  });

  it("ResNet-8 (folded BatchNorm, residual blocks, global mean) and an MLP with BatchNorm1d", async () => {
    const resnet = resnet8({ widths: [4, 8, 8], generator: new Generator(3) });
    resnet.eval();
    await expectEveryBatch(resnet, [1, 12, 12], 3, [1, 4]);
    const mlp = new Sequential(new Linear(6, 8, { generator: gen }), new BatchNorm1d(8), new Tanh(), new Linear(8, 3, { generator: gen }));
    mlp.eval();
    await expectEveryBatch(mlp, [6], 4, [1, 9]);
  });

  it("a reshape that merges the batch axis, an expand along it and a whole-batch slice stay free", async () => {
    const fn = (x: Tensor): Tensor => {
      const flat = x.reshape([-1]).reshape([x.shape[0]!, 6]);
      const scale = flat.sum(1, true).expand(x.shape[0]!, 6);
      return flat.mul(scale).slice(0, 0, x.shape[0]!).transpose().reshape([3, -1]);
    };
    await expectEveryBatch(fn, [2, 3], 2, [1, 7]);
  });

  it("refuses a slice inside the batch axis, naming it", () => {
    expect(() => exportOnnx((x: Tensor) => x.slice(0, 0, 1).relu(), Tensor.randn([3, 4]), { dynamicBatch: true })).toThrow(
      "exportOnnx: Slice (node slice) slices [0, 1) of the batch axis 0: with dynamicBatch a slice must keep the whole batch",
    );
    expect(() => exportOnnx((x: Tensor) => x.relu(), Tensor.randn([3, 4]), { dynamic: true } as never)).toThrow(
      "exportOnnx: unknown option 'dynamic'; the options are inputNames, outputNames, foldConstants, graphName, dynamicBatch",
    );
  });
});
