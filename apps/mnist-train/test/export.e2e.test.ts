import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Generator, Tensor, noGrad } from "@pico/core";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelFile } from "../src/model-file.js";
import { runCli } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "mnist-train-export-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The exported file run by onnxruntime-node on `x` against the checkpoint's model run by Pico. */
async function compare(checkpoint: string, onnxFile: string, x: Tensor): Promise<number> {
  const session = await ort.InferenceSession.create(readFileSync(onnxFile));
  const result = await session.run({ input: new ort.Tensor("float32", x.toTypedArray(), x.shape) });
  const served = result.output!;
  const { model } = loadModelFile(checkpoint);
  model.eval();
  const eager = noGrad(() => model.call(x) as Tensor);
  expect(served.dims).toEqual(eager.shape);
  const want = eager.toTypedArray();
  const got = served.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!) / Math.max(1, Math.abs(want[i]!)));
  return worst;
}

describe("mnist-train export (node dist/cli.js)", () => {
  beforeAll(async () => {
    const runs = await Promise.all(
      ["lenet", "resnet"].map((model) => runCli(["train", "--model", model, "--epochs", "1", "--limit", "256", "--test-limit", "64", "--threads", "1", "--out", join(work, model)])),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
  });

  it("writes the reference network as ONNX that onnxruntime runs to Pico's logits (1e-5)", async () => {
    const checkpoint = join(work, "lenet", "model.safetensors");
    const out = join(work, "lenet.onnx");
    const run = await runCli(["export", "--checkpoint", checkpoint, "--onnx", out]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`input "input" [1, 1, 28, 28] float32, output "output" [1, 10] logits`);
    expect(await compare(checkpoint, out, Tensor.randn([1, 1, 28, 28], { generator: new Generator(5) }))).toBeLessThan(1e-5);
  });

  it("exports ResNet-8 (BatchNorm, residual blocks, global mean) from a checkpoint at --batch-size 7", async () => {
    const checkpoint = join(work, "resnet", "epoch-1.ckpt.safetensors");
    const out = join(work, "resnet.onnx");
    const run = await runCli(["export", "--checkpoint", checkpoint, "--onnx", out, "--batch-size", "7"]);
    expect(run.code, run.stderr).toBe(0);
    expect(await compare(checkpoint, out, Tensor.randn([7, 1, 28, 28], { generator: new Generator(6) }))).toBeLessThan(1e-5);
  });

  it("--dynamic-batch writes one file for every batch size (axis 0 'batch'), and refuses --batch-size beside it", async () => {
    const checkpoint = join(work, "lenet", "model.safetensors");
    const out = join(work, "lenet-any.onnx");
    const run = await runCli(["export", "--checkpoint", checkpoint, "--onnx", out, "--dynamic-batch"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`input "input" [batch, 1, 28, 28] float32, output "output" [batch, 10] logits`);
    for (const batch of [1, 13]) expect(await compare(checkpoint, out, Tensor.randn([batch, 1, 28, 28], { generator: new Generator(batch) }))).toBeLessThan(1e-5);
    const both = await runCli(["export", "--checkpoint", checkpoint, "--onnx", out, "--dynamic-batch", "--batch-size", "4"]);
    expect([both.code, both.stderr.trim()]).toEqual([
      2,
      "mnist-train export: --dynamic-batch and --batch-size contradict each other: a model exported with --dynamic-batch takes any batch size",
    ]);
  });

  it("refuses a missing --onnx, a folder as --onnx and a folder that does not exist, in one line each", async () => {
    const checkpoint = join(work, "lenet", "model.safetensors");
    const missing = await runCli(["export", "--checkpoint", checkpoint]);
    expect([missing.code, missing.stderr.trim()]).toEqual([2, "mnist-train export: export needs --onnx FILE"]);
    const folder = await runCli(["export", "--checkpoint", checkpoint, "--onnx", work]);
    expect([folder.code, folder.stderr.trim()]).toEqual([2, `mnist-train export: --onnx ${work} is a folder; give the path of the .onnx file to write`]);
    const nowhere = await runCli(["export", "--checkpoint", checkpoint, "--onnx", join(work, "no", "x.onnx")]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr.trim()).toBe(`mnist-train export: cannot write ${join(work, "no", "x.onnx")}: the folder ${join(work, "no")} does not exist`);
  });

  it("graph draws the model as PNG (through Graphviz SVG), SVG or DOT, and refuses another extension", async () => {
    const checkpoint = join(work, "resnet", "model.safetensors");
    const png = join(work, "resnet.png");
    const run = await runCli(["graph", "--checkpoint", checkpoint, "--out", png]);
    expect(run.code, run.stderr).toBe(0);
    // 38: the classifier's Linear is one Addmm reading its weight transposed (no transpose operator).
    expect(run.stdout).toContain("resnet.png: 38 operators, 29 parameter tensors");
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe("png");
    expect(meta.height!).toBeGreaterThan(meta.width!); // top to bottom
    expect(meta.width!).toBeGreaterThan(1000);
    // Mostly white page with dark text and coloured boxes: not blank.
    const stats = await sharp(png).stats();
    expect(stats.channels[0]!.min).toBeLessThan(80);
    expect(stats.channels[0]!.mean).toBeGreaterThan(200);

    const svgFile = join(work, "resnet.svg");
    expect((await runCli(["graph", "--checkpoint", checkpoint, "--out", svgFile])).code).toBe(0);
    const svg = readFileSync(svgFile, "utf8");
    for (const text of ["<svg", "AddRelu", "layer2.0.downsample.1.running_var", "AdaptiveAvgPool2dFunction", "[1, 64, 7, 7]"]) expect(svg).toContain(text);
    expect(svg.match(/class="node"/g)!.length).toBe(38 + 1 + 1 + 29 + 4 + 2); // operators, input, output, parameters, the folded BatchNorms' running statistics, their eps constants

    const dotFile = join(work, "lenet.dot");
    expect((await runCli(["graph", "--checkpoint", join(work, "lenet", "model.safetensors"), "--out", dotFile])).code).toBe(0);
    expect(readFileSync(dotFile, "utf8")).toMatch(/^digraph pico \{[^]*Conv2dReluMaxPool2dFunction[^]*\}$/);

    // --backward: the training step's gradient flow, from the loss's seed to every parameter's AccumulateGrad.
    const backward = join(work, "resnet-backward.dot");
    const drawn = await runCli(["graph", "--checkpoint", checkpoint, "--out", backward, "--backward"]);
    expect(drawn.code, drawn.stderr).toBe(0);
    expect(drawn.stdout).toContain("resnet-backward.dot: backward of 25 operators, 29 parameter tensors");
    const gradients = readFileSync(backward, "utf8");
    expect(gradients).toMatch(/^digraph pico_backward \{/);
    expect(gradients).toContain("CrossEntropyBackward");
    expect(gradients.match(/AccumulateGrad/g)!.length).toBe(29);
    expect(gradients.match(/grad summed over 2 uses/g)!.length).toBe(3); // each residual block's input

    const bad = await runCli(["graph", "--checkpoint", checkpoint, "--out", join(work, "g.jpg")]);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, `mnist-train graph: --out ${join(work, "g.jpg")}: the picture's format follows its extension, one of .png, .svg, .dot; got .jpg`]);
  });
});
