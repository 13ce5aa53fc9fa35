import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Generator, Tensor, manualSeed, tensor } from "@pico/core";
import { CrossEntropyLoss, Linear, ReLU, Sequential } from "@pico/nn";
import { Adam, StepLR } from "@pico/optim";
import { afterAll, describe, expect, it } from "vitest";
import { checkStateDictCompatible, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { DataLoader } from "./data-loader.js";
import { TensorDataset } from "./dataset.js";
import { CheckpointError } from "./errors.js";
import { loadSafetensors, saveSafetensors } from "./safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "pico-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const values = (t: unknown): number[] => Array.from((t as Tensor).toTypedArray());

describe("saveCheckpoint / loadCheckpoint", () => {
  it("round-trips model tensors, an Adam-like optimizer state, a scheduler, the epoch and RNG state", () => {
    const path = join(dir, "full.safetensors");
    const model = { "conv1.weight": Tensor.randn([6, 1, 5, 5]), "conv1.bias": Tensor.randn([6]), "fc.weight": Tensor.randn([10, 3], { dtype: "float64" }) };
    const optimizer = {
      state: [
        { step: 3, expAvg: Tensor.randn([6, 1, 5, 5]), expAvgSq: Tensor.rand([6, 1, 5, 5]) },
        null,
        { step: 3, expAvg: tensor([0.5, -0.5, 0, 1, 2, 3]), expAvgSq: tensor([1, 2, 3, 4, 5, 6]), maxExpAvgSq: tensor(2.5) },
      ],
      paramGroups: [{ params: [0, 1, 2], lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false }],
    };
    const scheduler = { lastEpoch: 4, baseLrs: [1e-3], lastLr: [5e-4] };
    const generator = new Generator(42);
    generator.normal();
    const rng = { loader: generator.getState(), global: { words: [1, 2, 3, 4], spareNormal: null } };
    const extra = { best: Infinity, worst: -Infinity, missing: NaN, history: [{ loss: 0.25 }], note: "é", flag: true, nothing: null };
    saveCheckpoint(path, { model, optimizer, scheduler, epoch: 7, rng, extra });
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);

    const loaded = loadCheckpoint(path);
    expect(loaded.epoch).toBe(7);
    expect(Object.keys(loaded.model).sort()).toEqual(Object.keys(model).sort());
    for (const [name, t] of Object.entries(model)) {
      expect(loaded.model[name]!.shape).toEqual(t.shape);
      expect(loaded.model[name]!.dtype).toBe(t.dtype);
      expect(values(loaded.model[name])).toEqual(values(t));
    }
    const opt = loaded.optimizer as typeof optimizer;
    expect(opt.paramGroups).toEqual(optimizer.paramGroups);
    expect(opt.state[1]).toBeNull();
    expect(opt.state[0]!.step).toBe(3);
    expect(opt.state[0]!.expAvg).toBeInstanceOf(Tensor);
    expect(opt.state[0]!.expAvg.shape).toEqual([6, 1, 5, 5]);
    expect(values(opt.state[0]!.expAvgSq)).toEqual(values(optimizer.state[0]!.expAvgSq));
    expect((opt.state[2] as { maxExpAvgSq: Tensor }).maxExpAvgSq.item()).toBe(2.5);
    expect(loaded.scheduler).toEqual(scheduler);
    expect(loaded.rng).toEqual(rng);
    expect(new Generator(0).setState((loaded.rng as typeof rng).loader).normal()).toBe(generator.normal());
    expect(loaded.extra).toEqual(extra);
  });

  it("is a valid safetensors file: weights under model.<name>, state tensors under <section>.<path>", () => {
    const path = join(dir, "layout.safetensors");
    saveCheckpoint(path, { model: new Map([["w", tensor([1, 2])]]), optimizer: { state: [{ expAvg: tensor([3, 4]) }] } });
    const { tensors, metadata } = loadSafetensors(path);
    expect(Object.keys(tensors).sort()).toEqual(["model.w", "optimizer.state.0.expAvg"]);
    expect(metadata.format).toBe("pico.ts-checkpoint");
    expect(JSON.parse(metadata.optimizer!)).toEqual({ state: [{ expAvg: { $tensor: "optimizer.state.0.expAvg" } }] });
    expect(loadCheckpoint(path).epoch).toBeUndefined();
  });

  it("keeps tensor names unique when paths collide", () => {
    const path = join(dir, "collide.safetensors");
    saveCheckpoint(path, { model: {}, extra: { "a.b": tensor([1]), a: { b: tensor([2]) } } });
    const extra = loadCheckpoint(path).extra as { "a.b": Tensor; a: { b: Tensor } };
    expect(extra["a.b"].item()).toBe(1);
    expect(extra.a.b.item()).toBe(2);
  });

  it("loads a plain safetensors weights file as a model", () => {
    const path = join(dir, "plain.safetensors");
    saveSafetensors(path, { "fc.weight": tensor([[1, 2]]) });
    const loaded = loadCheckpoint(path);
    expect(loaded.model["fc.weight"]!.toArray()).toEqual([[1, 2]]);
    expect(loaded.optimizer).toBeUndefined();
  });

  it("refuses state that is not JSON data or Tensors, naming where it is", () => {
    const path = join(dir, "refused.safetensors");
    expect(() => saveCheckpoint(path, { model: {}, optimizer: { state: [{ buf: new Float32Array(2) }] } })).toThrow(
      /saveCheckpoint: optimizer.state.0.buf is a Float32Array; a checkpoint stores only JSON data/,
    );
    expect(() => saveCheckpoint(path, { model: {}, extra: { m: new Map() } })).toThrow(/extra.m is a Map/);
    expect(() => saveCheckpoint(path, { model: {}, extra: { $tensor: "x" } })).toThrow(/reserved for the checkpoint's own placeholders/);
    expect(() => saveCheckpoint(path, { model: {}, epoch: 1.5 })).toThrow(/epoch must be an integer/);
    expect(readdirSync(dir).filter((f) => f.startsWith("refused"))).toEqual([]);
  });

  it("refuses a checkpoint whose placeholders point at missing tensors, and a corrupt file", () => {
    const path = join(dir, "dangling.safetensors");
    saveSafetensors(path, {}, { format: "pico.ts-checkpoint", format_version: "1", optimizer: `{"state":[{"m":{"$tensor":"optimizer.gone"}}]}` });
    expect(() => loadCheckpoint(path)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(path)).toThrow(/optimizer refers to tensor "optimizer.gone", which the file does not contain/);
    const corrupt = join(dir, "corrupt.safetensors");
    writeFileSync(corrupt, "definitely not a checkpoint");
    expect(() => loadCheckpoint(corrupt)).toThrow(new RegExp(`loadSafetensors: ${corrupt}: bad header length`));
  });

  it("lets a real model, Adam, StepLR and a shuffled DataLoader resume bit for bit", () => {
    const n = 48;
    const gen = new Generator(3);
    const x = Tensor.randn([n, 4], { generator: gen });
    const y = Array.from({ length: n }, (_, i) => i % 3);
    const build = (seed: number): { net: Sequential; opt: Adam; sched: StepLR; loader: DataLoader } => {
      manualSeed(seed);
      const net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
      const opt = new Adam(net.parameters(), { lr: 0.01 });
      const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
      const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 16, shuffle: true, seed: 9 });
      return { net, opt, sched, loader };
    };
    const lossFn = new CrossEntropyLoss();
    const epoch = (r: ReturnType<typeof build>): void => {
      for (const [inputs, targets] of r.loader) {
        r.opt.zeroGrad();
        lossFn.forward(r.net.forward(inputs), targets).backward();
        r.opt.step();
      }
      r.sched.step();
    };
    const straight = build(1);
    for (let e = 0; e < 4; e++) epoch(straight);

    const first = build(1);
    epoch(first);
    epoch(first);
    const path = join(dir, "resume.safetensors");
    saveCheckpoint(path, { model: first.net.stateDict(), optimizer: first.opt.stateDict(), scheduler: first.sched.stateDict(), epoch: 2 });

    const resumed = build(2);
    const ckpt = loadCheckpoint(path);
    checkStateDictCompatible(resumed.net.stateDict(), ckpt.model);
    resumed.net.loadStateDict(ckpt.model);
    resumed.opt.loadStateDict(ckpt.optimizer as ReturnType<Adam["stateDict"]>);
    resumed.sched.loadStateDict(ckpt.scheduler as ReturnType<StepLR["stateDict"]>);
    resumed.loader.setEpoch(ckpt.epoch!);
    epoch(resumed);
    epoch(resumed);
    const a = straight.net.stateDict();
    const b = resumed.net.stateDict();
    for (const name of Object.keys(a)) expect(values(b[name])).toEqual(values(a[name]));
    expect(resumed.opt.paramGroups[0]!.lr).toBe(straight.opt.paramGroups[0]!.lr);
  });
});

describe("checkStateDictCompatible", () => {
  const model = { "conv1.weight": Tensor.zeros([6, 1, 5, 5]), "conv1.bias": Tensor.zeros([6]), "fc.weight": Tensor.zeros([10, 120]) };

  it("accepts matching names and shapes, in any order", () => {
    expect(() => checkStateDictCompatible(model, { "fc.weight": Tensor.ones([10, 120]), "conv1.bias": Tensor.ones([6]), "conv1.weight": Tensor.ones([6, 1, 5, 5]) })).not.toThrow();
  });

  it("lists every missing key, unexpected key and shape mismatch", () => {
    const found = { "conv1.weight": Tensor.zeros([8, 1, 5, 5]), "conv1.bias": Tensor.zeros([6]), "fc2.weight": Tensor.zeros([10, 84]) };
    let error: CheckpointError | undefined;
    try {
      checkStateDictCompatible(model, found, "run/model.safetensors");
    } catch (e) {
      error = e as CheckpointError;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error!.differences).toEqual([
      "conv1.weight: checkpoint [8, 1, 5, 5], model [6, 1, 5, 5]",
      "missing key fc.weight: model [10, 120], not in checkpoint",
      "unexpected key fc2.weight: checkpoint [10, 84], not in model",
    ]);
    expect(error!.message).toBe(
      [
        "run/model.safetensors: checkpoint does not match the model (3 differences):",
        "  conv1.weight: checkpoint [8, 1, 5, 5], model [6, 1, 5, 5]",
        "  missing key fc.weight: model [10, 120], not in checkpoint",
        "  unexpected key fc2.weight: checkpoint [10, 84], not in model",
      ].join("\n"),
    );
  });

  it("reports a rank difference as a shape mismatch", () => {
    expect(() => checkStateDictCompatible({ b: Tensor.zeros([6]) }, { b: Tensor.zeros([6, 1]) })).toThrow(
      "checkpoint does not match the model (1 difference):\n  b: checkpoint [6, 1], model [6]",
    );
  });
});
