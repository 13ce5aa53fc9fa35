import { Worker } from "node:worker_threads";
import { ArgumentError, type FloatArray, Generator, Tensor, kernels, manualSeed } from "@pico/core";
import { Adam, type AdamGroupOptions, AdamW, Optimizer, type ParamGroup, SGD } from "@pico/optim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { referenceCnn, syntheticDigits } from "../test-utils/reference-cnn.js";
import type { DataParallel } from "./data-parallel.js";
import { dataParallel } from "./node.js";
import { CALL_COUNT, CHUNK_NEXT, CHUNK_TOTAL, ControlLayout, SEQ } from "./protocol.js";
import { ChunkRunner, OptimizerSplit } from "./split-optimizer.js";
import { SignSGD } from "./test-utils/sign-sgd.js";
import { Spin } from "./wait.js";

// DataParallel.step against optimizer.step on the same DataParallel and batches: the same bits. The
// replicas run test-utils/replica.mjs on @pico/nn's dist (data-parallel.test.ts checks it is current).
const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);

/** A user's optimizer that keeps last step's velocity tensor as `previous` and makes a new `velocity` each step. */
class HistoryMomentum extends Optimizer<{ lr: number }> {
  constructor(params: Iterable<Tensor>) {
    super("HistoryMomentum", params, { lr: 0.01 });
  }
  protected validateOptions(o: { lr: number }, where: string): void {
    if (!(o.lr > 0)) throw new ArgumentError(`HistoryMomentum: ${where}lr must be > 0, but got ${o.lr}`);
  }
  protected requiredStateKeys(): string[] {
    return [];
  }
  protected updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<{ lr: number }>): void {
    const state = this.state as Map<Tensor, Record<string, Tensor>>;
    const old = state.get(param)?.velocity;
    const velocity = Tensor.zeros([p.length]);
    const v = velocity.data.data;
    for (let i = 0; i < p.length; i++) v[i] = (old === undefined ? 0 : 0.9 * old.data.data[i]!) + g[i]!;
    state.set(param, old === undefined ? { velocity } : { velocity, previous: old });
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - group.lr * v[i]!;
  }
}

/** SGD with momentum that keeps last step's momentum buffer as `previous` and steps on a copy of it (a new state tensor every step). */
class RotatingSGD extends SGD {
  // Opts in: it replaces its state before super.step's kernel calls and reads nothing after them.
  static override splittableStep = true;
  override step<T>(closure?: () => T): T | undefined {
    for (const record of this.state.values() as Iterable<Record<string, Tensor>>) {
      if (record.momentumBuffer === undefined) continue;
      record.previous = record.momentumBuffer;
      record.momentumBuffer = record.momentumBuffer.clone();
    }
    return super.step(closure);
  }
}

/** WGAN-style weight clipping by an Adam subclass after its update: it reads its parameters after core's kernel calls. */
class ClippedAdam extends Adam {
  override step<T>(closure?: () => T): T | undefined {
    const result = super.step(closure);
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const d = p.data.data;
        for (let i = 0; i < d.length; i++) d[i] = Math.max(-0.01, Math.min(0.01, d[i]!));
      }
    }
    return result;
  }
}

/** An Adam subclass that declares only splittableStep and keeps fc1's weight's `g` each step, with a copy of its values then. */
class KeepingAdam extends Adam {
  static override splittableStep = true;
  readonly kept: FloatArray[] = [];
  readonly copies: Float32Array[] = [];
  watch: Tensor | null = null;
  protected override updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<AdamGroupOptions>): void {
    super.updateParameter(param, p, g, group);
    if (param !== this.watch) return;
    this.kept.push(g);
    this.copies.push(Float32Array.from(g));
  }
}

/** Adam and, from its second step on, SGD with momentum over the same parameters, stepped as one optimizer that opts in to splitting. */
class AdamThenSGD {
  static splittableStep = true;
  steps = 0;
  constructor(
    readonly adam: Adam,
    readonly sgd: SGD,
  ) {}
  get state(): Adam["state"] {
    return this.adam.state;
  }
  step(): void {
    this.adam.step();
    if (this.steps++ >= 1) this.sgd.step();
  }
}

/** Where two lists of arrays first differ ("array i, element k"), or "none" (toEqual's diff of large arrays takes minutes). */
function firstDifference(a: readonly Float32Array[], b: readonly Float32Array[]): string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.length !== b[i]!.length) return `array ${i}: lengths ${a[i]!.length} and ${b[i]!.length}`;
    for (let k = 0; k < a[i]!.length; k++) if (!Object.is(a[i]![k], b[i]![k])) return `array ${i}, element ${k}: ${a[i]![k]} and ${b[i]![k]}`;
  }
  return "none";
}

interface Run {
  weights: Float32Array[];
  state: Float32Array[];
}

describe("DataParallel.step (2 replicas): the optimizer's update split across the replicas", () => {
  let dp: DataParallel;
  const model = (manualSeed(21), referenceCnn());
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  const control = (): Int32Array => (dp as unknown as { control: Int32Array }).control;
  /** The commands sent to the replicas so far (one per forwardBackward, its gradient sum included; one per step that splits calls). */
  const commands = (): number => control()[SEQ]!;

  beforeAll(async () => {
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: () => new Worker(replicaScript, { workerData: { model: "reference" }, execArgv: [] }), stepTimeoutMs: 30_000 });
  });
  afterAll(async () => dp?.close());

  /** `steps` steps over batches of 15, each zeroing the gradients of the optimizer of its step and running `step` on it. */
  function trainSteps<O extends Optimizer>(steps: number, optimizerAt: (s: number) => O, step: (o: O) => void): void {
    for (let s = 0; s < steps; s++) {
      const o = optimizerAt(s);
      const { images, labels } = syntheticDigits(15, new Generator(40 + s));
      o.zeroGrad();
      dp.forwardBackward(images, labels);
      step(o);
    }
  }

  /** Three steps over batches of 15 from the initial weights; the weights and every state tensor after. */
  function train(optimizer: Optimizer, step: (o: Optimizer) => void, reload = false): Run {
    for (let s = 0; s < 3; s++) {
      const { images, labels } = syntheticDigits(15, new Generator(40 + s));
      optimizer.zeroGrad();
      dp.forwardBackward(images, labels);
      // loadStateDict gives the state new (unshared) tensors: the next step moves them in again.
      if (reload && s === 1) optimizer.loadStateDict(optimizer.stateDict());
      step(optimizer);
    }
    const state: Float32Array[] = [];
    for (const s of optimizer.state.values()) for (const v of Object.values(s)) if (typeof v !== "number") state.push(Float32Array.from(v.toTypedArray()));
    return { weights: model.parameters().map((p) => Float32Array.from(p.toTypedArray())), state };
  }

  /** The same three steps through optimizer.step and through dp.step; how many OPTIMIZE commands dp.step sent. */
  function both(make: () => Optimizer, reload = false): { plain: Run; split: Run; optimizeCommands: number } {
    model.loadStateDict(initial);
    const plain = train(make(), (o) => o.step(), reload);
    model.loadStateDict(initial);
    const before = commands();
    const split = train(make(), (o) => dp.step(o), reload);
    return { plain, split, optimizeCommands: commands() - before - 3 };
  }

  it("gives optimizer.step's bits for Adam (amsgrad, weight decay), AdamW and SGD with nesterov momentum, from the second step on split", () => {
    const makers = [
      () => new Adam(model.parameters(), { lr: 1e-2, amsgrad: true, weightDecay: 1e-3 }),
      () => new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.1 }),
      () => new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true }),
    ];
    for (const make of makers) {
      const { plain, split, optimizeCommands } = both(make, make === makers[0]);
      expect(split.weights).toEqual(plain.weights);
      expect(split.state).toEqual(plain.state);
      expect(split.weights[4]!.some((w, i) => w !== initial["7.weight"]!.toTypedArray()[i])).toBe(true);
      // Steps 2 and 3 split the two parameters of over 2,048 elements (conv2's and fc1's weights), in one
      // command each, once their state lives in shared memory; with Adam, step 2 runs on reloaded state
      // (moved into shared memory by that step, so only step 3 splits).
      expect(optimizeCommands).toBe(make === makers[0] ? 1 : 2);
      expect(control()[CALL_COUNT]).toBe(2);
    }
  });

  it("moves the optimizer's state into shared memory and keeps its tensors", () => {
    model.loadStateDict(initial);
    const adam = new Adam(model.parameters(), { lr: 1e-3 });
    train(adam, (o) => dp.step(o));
    const fc1 = adam.state.get(model.parameters()[4]!)!;
    expect(fc1.expAvg.data.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(fc1.expAvgSq.data.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(adam.stateDict().state[4]!.step).toBe(3);
  });

  it("runs a user's own optimizer, and any optimizer under a custom kernel, on this thread with optimizer.step's result", () => {
    const own = both(() => new SignSGD(model.parameters(), { lr: 1e-3 }));
    expect(own.split.weights).toEqual(own.plain.weights);
    expect(own.optimizeCommands).toBe(0);
    const family = kernels.optimizerKernels;
    family.override(kernels.optimizerJs);
    try {
      const custom = both(() => new Adam(model.parameters(), { lr: 1e-2 }));
      expect(custom.split.weights).toEqual(custom.plain.weights);
      expect(custom.optimizeCommands).toBe(0);
    } finally {
      family.override(null);
    }
  });

  it("keeps two optimizers' states over the same parameters apart (optimizer.step's bits, alternating steps)", () => {
    const run = (step: (o: Adam) => void): Float32Array[] => {
      model.loadStateDict(initial);
      const a = new Adam(model.parameters(), { lr: 1e-2 });
      const b = new Adam(model.parameters(), { lr: 1e-3 });
      trainSteps(4, (s) => (s % 2 === 0 ? a : b), step);
      const fc1 = model.parameters()[4]!;
      return [a.state.get(fc1)!.expAvg, b.state.get(fc1)!.expAvg, a.state.get(fc1)!.expAvgSq, b.state.get(fc1)!.expAvgSq, ...model.parameters()].map((t) =>
        Float32Array.from(t.toTypedArray()),
      );
    };
    const plain = run((o) => o.step());
    const split = run((o) => dp.step(o));
    expect(firstDifference(split, plain)).toBe("none");
    expect(firstDifference([split[0]!], [split[1]!])).not.toBe("none");
  });

  it("leaves the state of a user's own optimizer where it is (one that keeps last step's tensor under another key)", () => {
    const run = (step: (o: HistoryMomentum) => void): { values: Float32Array[]; shared: boolean } => {
      model.loadStateDict(initial);
      const o = new HistoryMomentum(model.parameters());
      trainSteps(3, () => o, step);
      const record = (o.state as Map<Tensor, Record<string, Tensor>>).get(model.parameters()[4]!)!;
      return {
        values: [record.previous!, record.velocity!, ...model.parameters()].map((t) => Float32Array.from(t.toTypedArray())),
        shared: record.velocity!.data.data.buffer instanceof SharedArrayBuffer || record.previous!.data.data.buffer instanceof SharedArrayBuffer,
      };
    };
    const plain = run((o) => o.step());
    const split = run((o) => dp.step(o));
    expect(firstDifference(split.values, plain.values)).toBe("none");
    expect(firstDifference([split.values[0]!], [split.values[1]!])).not.toBe("none");
    expect(split.shared).toBe(false);
  });

  it("gives a new place to a state tensor that replaces one still in the optimizer's state", () => {
    const run = (step: (o: RotatingSGD) => void): { values: Float32Array[]; shared: boolean } => {
      model.loadStateDict(initial);
      const o = new RotatingSGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      trainSteps(4, () => o, step);
      const record = o.state.get(model.parameters()[4]!)! as unknown as Record<string, Tensor>;
      return {
        values: [record.previous!, record.momentumBuffer!, ...model.parameters()].map((t) => Float32Array.from(t.toTypedArray())),
        shared: record.momentumBuffer!.data.data.buffer instanceof SharedArrayBuffer,
      };
    };
    const plain = run((o) => o.step());
    const split = run((o) => dp.step(o));
    expect(firstDifference(split.values, plain.values)).toBe("none");
    expect(firstDifference([split.values[0]!], [split.values[1]!])).not.toBe("none");
    expect(split.shared).toBe(true);
  });

  it("runs a subclass of a splittable optimizer (Adam clipping its weights after super.step) and an instance with its own step on this thread: optimizer.step's bits", () => {
    const clipped = both(() => new ClippedAdam(model.parameters(), { lr: 1e-2 }));
    expect(Math.max(...clipped.split.weights[4]!.map(Math.abs))).toBeLessThanOrEqual(0.01);
    expect(firstDifference(clipped.split.weights, clipped.plain.weights)).toBe("none");
    expect(clipped.optimizeCommands).toBe(0);
    // An instance with a step of its own does not split either.
    const patched = both(() => {
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      const base = adam.step.bind(adam);
      adam.step = () => {
        base();
        for (const p of adam.paramGroups[0]!.params) p.data.data.fill(0.5, 0, 1);
        return undefined;
      };
      return adam;
    });
    expect(firstDifference(patched.split.weights, patched.plain.weights)).toBe("none");
    expect(patched.optimizeCommands).toBe(0);
    // Nor an Adam whose step a Proxy wraps, or whose prototype was swapped for one with a clipping step.
    const clip = (adam: Adam): void => {
      for (const p of adam.paramGroups[0]!.params) {
        const d = p.data.data;
        for (let i = 0; i < d.length; i++) d[i] = Math.max(-0.01, Math.min(0.01, d[i]!));
      }
    };
    const proxied = both(() => {
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      return new Proxy(adam, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key);
          if (key === "step") return () => (target.step(), clip(target), undefined);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    });
    const swapped = both(() => {
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      const proto = Object.create(Adam.prototype) as Adam;
      proto.step = function (this: Adam) {
        Adam.prototype.step.call(this);
        clip(this);
        return undefined;
      };
      return Object.setPrototypeOf(adam, proto) as Adam;
    });
    for (const disguised of [proxied, swapped]) {
      expect(Math.max(...disguised.split.weights[4]!.map(Math.abs))).toBeLessThanOrEqual(0.01);
      expect(firstDifference(disguised.split.weights, disguised.plain.weights)).toBe("none");
      expect(disguised.optimizeCommands).toBe(0);
    }
  });

  it("splits a class that declares only splittableStep and keeps g, and what it kept is the .grad's own array over the sum's block, which the next forwardBackward writes again (optim README: copy a gradient to keep it under DataParallel)", () => {
    model.loadStateDict(initial);
    const adam = new KeepingAdam(model.parameters(), { lr: 1e-3 });
    const fc1 = model.parameters()[4]!;
    adam.watch = fc1;
    const before = commands();
    trainSteps(3, () => adam, (o) => dp.step(o));
    expect(commands() - before - 3).toBe(2);
    expect(adam.kept.length).toBe(3);
    expect(new Set(adam.kept).size).toBe(1);
    expect(adam.kept[0]!.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(adam.kept[0]).toBe(fc1.grad!.data.data);
    // Each step's gradient differs, and every kept array now holds the last one's.
    expect(firstDifference([adam.copies[0]!], [adam.copies[2]!])).not.toBe("none");
    expect(firstDifference([adam.copies[1]!], [adam.copies[2]!])).not.toBe("none");
    for (const k of adam.kept) expect(firstDifference([Float32Array.from(k)], [adam.copies[2]!])).toBe("none");
  });

  it("runs recorded calls before an unrecorded call on the same arrays (Adam, then SGD with new momentum state, in one opted-in step)", () => {
    const run = (step: (o: AdamThenSGD) => void): { weights: Float32Array[]; commands: number } => {
      model.loadStateDict(initial);
      const o = new AdamThenSGD(new Adam(model.parameters(), { lr: 1e-2 }), new SGD(model.parameters(), { lr: 0.5, momentum: 0.9, weightDecay: 0.5 }));
      const before = commands();
      for (let s = 0; s < 3; s++) {
        const { images, labels } = syntheticDigits(15, new Generator(40 + s));
        o.adam.zeroGrad();
        dp.forwardBackward(images, labels);
        step(o);
      }
      return { weights: model.parameters().map((p) => Float32Array.from(p.toTypedArray())), commands: commands() - before - 3 };
    };
    const plain = run((o) => o.step());
    const split = run((o) => dp.step(o));
    expect(firstDifference(split.weights, plain.weights)).toBe("none");
    // Adam's calls split from step 2 on (its state is shared after step 1); SGD's, on momentum buffers of their own memory, run here after them.
    expect(split.commands).toBeGreaterThan(0);
  });

  it("refuses what is not an optimizer; an optimizer that throws has its updates before the throw completed, its error rethrown, and the set keeps working", () => {
    expect(() => dp.step(null as never)).toThrow(
      "DataParallel.step: optimizer must be an optimizer (an object with step()), such as @pico/optim's Adam, but got null",
    );
    expect(() => dp.step({ step: 3 } as never)).toThrow("DataParallel.step: optimizer must be an optimizer (an object with step()), such as @pico/optim's Adam, but got an object (Object)");
    model.loadStateDict(initial);
    const adam = new Adam(model.parameters(), { lr: 1e-2 });
    train(adam, (o) => dp.step(o));
    const broken = new (class Broken {
      static splittableStep = true;
      step(): void {
        adam.step();
        throw new RangeError("broken: after the update");
      }
    })();
    const weights = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
    const state = adam.stateDict();
    const before = commands();
    expect(() => dp.step(broken)).toThrow(new RangeError("broken: after the update"));
    expect(commands() - before).toBe(1);
    const split = model.parameters().map((p) => Float32Array.from(p.toTypedArray()));
    model.loadStateDict(weights);
    adam.loadStateDict(state);
    expect(() => broken.step()).toThrow(new RangeError("broken: after the update"));
    expect(split).toEqual(model.parameters().map((p) => Float32Array.from(p.toTypedArray())));
    expect(split[4]).not.toEqual(weights["7.weight"]!.toTypedArray());
    const { images, labels } = syntheticDigits(15, new Generator(50));
    adam.zeroGrad();
    expect(Number.isFinite(dp.forwardBackward(images, labels).loss)).toBe(true);
    expect(dp.step(adam)).toBeUndefined();
  });
});

describe("DataParallel.step with a worker whose optimizer kernel throws", () => {
  it("reports the worker's failure as one in its part of the optimizer step (there is no shard in it)", async () => {
    const model = (manualSeed(22), referenceCnn());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: () => new Worker(replicaScript, { workerData: { model: "bad-kernel" }, execArgv: [] }), stepTimeoutMs: 30_000 });
    try {
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      // Records Adam's calls, then naps 300 ms before running any chunk: the worker claims the first ones.
      const napping = new (class Napping {
        static splittableStep = true;
        step(): void {
          adam.step();
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        }
      })();
      // The first step makes Adam's state and moves it into shared memory (dp.step(adam) shares adam's state); the second splits.
      let message = "";
      for (let s = 0; s < 2; s++) {
        const { images, labels } = syntheticDigits(6, new Generator(60 + s));
        adam.zeroGrad();
        dp.forwardBackward(images, labels);
        if (s === 0) {
          dp.step(adam);
          continue;
        }
        try {
          dp.step(napping);
        } catch (error) {
          message = (error as Error).message;
        }
      }
      expect(message).toBe(
        "DataParallel.step: replica 1 (a worker) failed in its part of the optimizer step: RangeError: bad kernel: adam refused (the optimizer step is incomplete: the parameters were partly updated)",
      );
    } finally {
      await dp.close();
    }
  });
});

describe("OptimizerSplit's chunks (one thread)", () => {
  /** Shared arrays of `n` seeded floats each: p in the state buffer, g in the gradients, the rest in the optimizer's. */
  function arrays(n: number, count: number, seed: number): { buffers: SharedArrayBuffer[]; views: Float32Array[] } {
    const buffers = [new SharedArrayBuffer(n * 4), new SharedArrayBuffer(n * 4), new SharedArrayBuffer((count - 2) * n * 4)];
    const views = [new Float32Array(buffers[0]!), new Float32Array(buffers[1]!)];
    for (let i = 2; i < count; i++) views.push(new Float32Array(buffers[2]!, (i - 2) * n * 4, n));
    const g = new Generator(seed);
    for (const v of views) for (let k = 0; k < n; k++) v[k] = g.random() * 0.2 - 0.1 + (v === views[3] ? 0.1 : 0);
    return { buffers, views };
  }

  it("cuts each recorded call into chunks that, claimed and run in any order, give the whole call's bits; a call over a recorded call's memory waits for it", () => {
    const layout = new ControlLayout(2, 0, 0, 0);
    const control = new Int32Array(new SharedArrayBuffer(layout.bytes));
    const kernel = kernels.optimizerKernels.resolve().kernel;
    const adam = { lr: 1e-2, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 1e-3, amsgrad: false, maximize: false };
    const sgd = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0, maximize: false };
    // Adam over 10,081 elements: 3 chunks of 3,364 (the last 3,353); SGD over 2,500: one chunk.
    const a = arrays(10_081, 4, 1);
    const b = arrays(2_500, 3, 2);
    const expected = [...a.views, ...b.views].map((x) => Float32Array.from(x));
    kernel.adam(expected[0]!, expected[1]!, expected[2]!, expected[3]!, null, 3, adam, false);
    kernel.sgd(expected[4]!, expected[5]!, expected[6]!, false, sgd);
    kernel.sgd(expected[0]!, expected[1]!, expected[2]!, false, sgd);
    // The recorder splits calls whose arrays all live in the buffers it is given: here both sets' three.
    const split = new OptimizerSplit(control, layout, [a.buffers[0]!, a.buffers[1]!, a.buffers[2]!, b.buffers[0]!, b.buffers[1]!, b.buffers[2]!]);
    const seq = 7;
    let begun = 0;
    const flush = (): void => {
      split.end(seq);
      new ChunkRunner(control, layout, [a.buffers[0]!, a.buffers[1]!, a.buffers[2]!, b.buffers[0]!, b.buffers[1]!, b.buffers[2]!]).run(kernel, seq, new Spin(0));
    };
    const recorder = split.recorder(kernel, () => begun++, flush);
    const [p, g, m, v] = a.views as [Float32Array, Float32Array, Float32Array, Float32Array];
    recorder.adam(p, g, m, v, null, 3, adam, false);
    recorder.sgd(b.views[0]!, b.views[1]!, b.views[2]!, false, sgd);
    // Nothing has run yet: both calls are in one command, 4 chunks.
    expect(begun).toBe(1);
    expect(firstDifference([b.views[0]!], [expected[4]!])).not.toBe("none");
    expect(control[CHUNK_TOTAL]).toBe(4);
    // Another thread claimed the first chunk and ran it: this one runs the rest and skips it.
    expect(Atomics.compareExchange(control, CHUNK_NEXT, 0, 1)).toBe(0);
    kernel.adam(p.subarray(0, 3_364), g.subarray(0, 3_364), m.subarray(0, 3_364), v.subarray(0, 3_364), null, 3, adam, false);
    // SGD over Adam's parameter: the command with Adam completes first, then a new one starts.
    recorder.sgd(p, g, m, false, sgd);
    expect(begun).toBe(2);
    expect(control[CHUNK_TOTAL]).toBe(3);
    flush();
    expect(control[CHUNK_NEXT]).toBe(3);
    [...a.views, ...b.views].forEach((x, i) => expect(firstDifference([x], [expected[i]!])).toBe("none"));
  });
});
