import { Generator, Tensor, kernels, noGrad, tracer } from "@pico/core";
import type { FloatArray } from "@pico/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Module } from "../module.js";
import { referenceCnn } from "../test-utils/reference-cnn.js";
import { AdaptiveMaxPool2d } from "./adaptive-max-pool2d.js";
import { Conv1d } from "./conv1d.js";
import { ConvTranspose2d } from "./conv-transpose2d.js";
import { Conv2d } from "./conv2d.js";
import { Dropout2d } from "./dropout2d.js";
import { ELU } from "./elu.js";
import { GELU } from "./gelu.js";
import { GroupNorm } from "./group-norm.js";
import { Hardsigmoid } from "./hardsigmoid.js";
import { Hardswish } from "./hardswish.js";
import { InstanceNorm2d } from "./instance-norm2d.js";
import { LayerNorm } from "./layer-norm.js";
import { Flatten } from "./flatten.js";
import { Linear } from "./linear.js";
import { MaxPool2d } from "./max-pool2d.js";
import { Mish } from "./mish.js";
import { PixelShuffle, PixelUnshuffle } from "./pixel-shuffle.js";
import { PReLU } from "./prelu.js";
import { ReLU } from "./relu.js";
import { Sequential } from "./sequential.js";
import { Sigmoid } from "./sigmoid.js";
import { SiLU } from "./silu.js";
import { Tanh } from "./tanh.js";
import { Upsample } from "./upsample.js";

/** Remembers the tensor it was last given (as a user's layer might, for inspection). */
class CacheInput extends Module<[Tensor], Tensor> {
  last: Tensor | null = null;
  forward(input: Tensor): Tensor {
    this.last = input;
    return input.mul(2);
  }
}

/** Remembers the tensor it last returned. */
class CacheOutput extends Module<[Tensor], Tensor> {
  last: Tensor | null = null;
  forward(input: Tensor): Tensor {
    this.last = input.add(1);
    return this.last;
  }
}

/** A user's layer that promises its forward keeps no reference to its input or output. */
class Scale extends Module<[Tensor], Tensor> {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return input.mul(2);
  }
}

/** Inherits Scale's declaration but keeps its input: the promise was Scale's, not its subclass's. */
class RememberingScale extends Scale {
  seen: Tensor | null = null;
  override forward(input: Tensor): Tensor {
    this.seen = input;
    return input.mul(2);
  }
}

/** A subclass of a built-in layer: its forward is not the built-in's, so nothing it sees is recycled. */
class RememberingReLU extends ReLU {
  seen: Tensor | null = null;
  override forward(input: Tensor): Tensor {
    this.seen = input;
    return super.forward(input);
  }
}

function spyRecycle(): FloatArray[] {
  const recycled: FloatArray[] = [];
  const original = tracer.recycle.bind(tracer);
  vi.spyOn(tracer, "recycle").mockImplementation((array: FloatArray) => {
    recycled.push(array);
    return original(array);
  });
  return recycled;
}

/** Runs the forward a few times so that recycled arrays are handed out again and overwritten. */
function churn(model: Sequential, x: Tensor, times = 3): Tensor {
  let y = model.forward(x);
  for (let i = 1; i < times; i++) y = model.forward(x.mul(1.5));
  return y;
}

afterEach(() => {
  vi.restoreAllMocks();
  Sequential.recycling = true;
});

describe("Sequential recycling under noGrad", () => {
  it("gives the reference network the same outputs, bit for bit, with and without recycling", () => {
    const model = referenceCnn(new Generator(3));
    const x = Tensor.randn([12, 1, 28, 28]);
    const run = (on: boolean): number[][] => {
      Sequential.recycling = on;
      return noGrad(() => [0, 1, 2, 3].map((k) => Array.from(model.forward(x.mul(1 + k / 4)).toTypedArray())));
    };
    const off = run(false);
    const recycled = spyRecycle();
    expect(run(true)).toEqual(off);
    expect(recycled.length).toBeGreaterThan(0);
  });

  it("recycles intermediates but never the input, the output, or a Flatten view's buffer while it is read", () => {
    const model = new Sequential(new Conv2d(1, 8, 3), new ReLU(), new Flatten(), new Linear(8 * 26 * 26, 5));
    const x = Tensor.randn([4, 1, 28, 28]);
    const before = Array.from(x.toTypedArray());
    const recycled = spyRecycle();
    const y = noGrad(() => model.forward(x));
    const buffers = recycled.map((a) => a.buffer);
    expect(buffers).not.toContain(x.data.data.buffer);
    expect(buffers).not.toContain(y.data.data.buffer);
    // The conv output, which the ReLU overwrites in place and Flatten views, once Linear has read it.
    expect(recycled.length).toBe(1);
    expect(Array.from(x.toTypedArray())).toEqual(before);
  });

  it("recycles nothing at once in grad mode", () => {
    const model = referenceCnn(new Generator(4));
    const recycled = spyRecycle();
    model.forward(Tensor.randn([6, 1, 28, 28])).sum().backward();
    expect(recycled).toEqual([]);
  });

  it("leaves alone what a custom layer caches, before or after it", () => {
    const cacheIn = new CacheInput();
    const cacheOut = new CacheOutput();
    const model = new Sequential(new Conv2d(1, 8, 3), new ReLU(), cacheIn, new ReLU(), cacheOut, new Conv2d(8, 4, 3), new ReLU());
    const x = Tensor.randn([4, 1, 28, 28]);
    const recycled = spyRecycle();
    noGrad(() => model.forward(x));
    const seenIn = cacheIn.last!;
    const seenOut = cacheOut.last!;
    const snapIn = Array.from(seenIn.toTypedArray());
    const snapOut = Array.from(seenOut.toTypedArray());
    // Further passes reuse every recycled array; the cached tensors must keep their values.
    noGrad(() => churn(model, Tensor.randn([4, 1, 28, 28])));
    expect(Array.from(seenIn.toTypedArray())).toEqual(snapIn);
    expect(Array.from(seenOut.toTypedArray())).toEqual(snapOut);
    const buffers = recycled.map((a) => a.buffer);
    expect(buffers).not.toContain(seenIn.data.data.buffer);
    expect(buffers).not.toContain(seenOut.data.data.buffer);
    // Each conv output qualifies (made and read by built-ins only), but its ReLU works on it in place and
    // hands it on: to the caching layer, or out of the Sequential. So nothing is recycled.
    expect(recycled.length).toBe(0);
  });

  it("leaves alone what a subclass of a built-in layer, or a patched forward, keeps", () => {
    const sub = new RememberingReLU();
    const patched = new ReLU();
    let patchedSeen: Tensor | null = null;
    patched.forward = (input: Tensor): Tensor => {
      patchedSeen = input;
      return input.relu();
    };
    const model = new Sequential(new Conv2d(1, 8, 3), sub, new Conv2d(8, 8, 3), patched, new Conv2d(8, 4, 3));
    const x = Tensor.randn([4, 1, 28, 28]);
    const recycled = spyRecycle();
    noGrad(() => model.forward(x));
    const keptA = sub.seen!;
    const keptB = patchedSeen as unknown as Tensor;
    const snapA = Array.from(keptA.toTypedArray());
    const snapB = Array.from(keptB.toTypedArray());
    noGrad(() => churn(model, x));
    expect(Array.from(keptA.toTypedArray())).toEqual(snapA);
    expect(Array.from(keptB.toTypedArray())).toEqual(snapB);
    expect(recycled).toEqual([]);
  });

  it("runs a ReLU in place on an intermediate only: never on the input, a view a caller holds, or in grad mode", () => {
    const x = Tensor.randn([3, 6]);
    const before = Array.from(x.toTypedArray());
    const model = new Sequential(new ReLU(), new Linear(6, 5), new ReLU(), new Linear(5, 4), new ReLU());
    const inPlace = vi.spyOn(kernels, "unary");
    const y = noGrad(() => model.forward(x));
    // The first ReLU reads the Sequential's input, which stays as it was; the other two overwrite the Linear outputs.
    expect(Array.from(x.toTypedArray())).toEqual(before);
    expect(inPlace.mock.calls.map((call) => [call[0], call[2] === call[1]])).toEqual([["relu", true], ["relu", true]]);
    Sequential.recycling = false;
    expect(Array.from(noGrad(() => model.forward(x)).toTypedArray())).toEqual(Array.from(y.toTypedArray()));
    Sequential.recycling = true;
    inPlace.mockClear();
    model.forward(x);
    expect(inPlace).not.toHaveBeenCalled();
  });

  it("recycles around a user's module that declares keepsNoReferences and around a nested Sequential, bit for bit", () => {
    const model = new Sequential(new Conv2d(1, 8, 3), new Scale(), new Conv2d(8, 4, 3), new Sequential(new ReLU(), new Conv2d(4, 4, 3)), new Tanh());
    const x = Tensor.randn([4, 1, 28, 28]);
    Sequential.recycling = false;
    const off = noGrad(() => Array.from(churn(model, x).toTypedArray()));
    Sequential.recycling = true;
    const recycled = spyRecycle();
    expect(noGrad(() => Array.from(churn(model, x).toTypedArray()))).toEqual(off);
    // Per pass: the first conv's output (Scale read it), Scale's output, the second conv's output (the
    // nested Sequential's input), the nested ReLU's output (recycled inside) and the nested output.
    const perPass = recycled.slice(0, 5).map((a) => a.length);
    expect(perPass.sort((a, b) => a - b)).toEqual([4 * 4 * 22 * 22, 4 * 4 * 24 * 24, 4 * 4 * 24 * 24, 4 * 8 * 26 * 26, 4 * 8 * 26 * 26]);
    expect(recycled.length).toBe(15);
  });

  it("leaves alone what a subclass keeps that inherits a user's declaration without repeating it", () => {
    const sub = new RememberingScale();
    const model = new Sequential(new Conv2d(1, 8, 3), new ReLU(), sub, new Conv2d(8, 4, 3));
    const recycled = spyRecycle();
    noGrad(() => model.forward(Tensor.randn([4, 1, 28, 28])));
    const kept = sub.seen!;
    const snap = Array.from(kept.toTypedArray());
    noGrad(() => churn(model, Tensor.randn([4, 1, 28, 28])));
    expect(Array.from(kept.toTypedArray())).toEqual(snap);
    expect(recycled.map((a) => a.buffer)).not.toContain(kept.data.data.buffer);
  });

  it("can be switched off", () => {
    const keep = vi.spyOn(tracer, "keepPrivate");
    const model = referenceCnn(new Generator(5));
    Sequential.recycling = false;
    const recycled = spyRecycle();
    noGrad(() => model.forward(Tensor.randn([8, 1, 28, 28])));
    model.forward(Tensor.randn([8, 1, 28, 28])).sum().backward();
    expect(recycled).toEqual([]);
    // Only the fused operators keep their own arg-max indices private; no activation is handed over.
    expect(keep.mock.calls.map((call) => call.slice(1).map((a) => a.length))).toEqual([[8 * 8 * 12 * 12], [8 * 16 * 4 * 4]]);
  });
});

describe("Sequential recycling in grad mode", () => {
  /** Forward, backward and a plain SGD update, `steps` times; returns every output and gradient. */
  function train(model: Sequential, on: boolean, steps: number, x: Tensor, seed = (i: number) => i): number[][] {
    Sequential.recycling = on;
    const trace: number[][] = [];
    for (let i = 0; i < steps; i++) {
      model.zeroGrad();
      const y = model.forward(x.mul(1 + seed(i) / 8));
      trace.push(Array.from(y.toTypedArray()));
      y.square().sum().backward();
      for (const p of model.parameters()) {
        trace.push(Array.from(p.grad!.toTypedArray()));
        noGrad(() => p.data.data.set(p.sub(p.grad!.mul(1e-3)).toTypedArray()));
      }
    }
    return trace;
  }

  function activations(): () => Sequential {
    return () => {
      const generator = new Generator(7);
      return new Sequential(
        new Conv2d(1, 8, 3, { generator }),
        new Tanh(),
        new Conv2d(8, 8, 3, { generator }),
        new Sigmoid(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(8 * 12 * 12, 20, { generator }),
        new Tanh(),
        new Linear(20, 3, { generator }),
      );
    };
  }

  it("hands activations to the pool when backward releases them, with gradients bit for bit unchanged", () => {
    const x = Tensor.randn([6, 1, 28, 28]);
    for (const make of [activations(), () => referenceCnn(new Generator(8))]) {
      const off = train(make(), false, 4, x);
      const keep = vi.spyOn(tracer, "keepPrivate");
      expect(train(make(), true, 4, x)).toEqual(off);
      expect(keep).toHaveBeenCalled();
      keep.mockRestore();
    }
  });

  it("keeps every activation through a backward with retainGraph, and a second backward matches", () => {
    const model = activations()();
    const x = Tensor.randn([6, 1, 28, 28]);
    const y = model.forward(x);
    y.sum().backward(undefined, { retainGraph: true });
    const first = model.parameters().map((p) => Array.from(p.grad!.toTypedArray()));
    model.zeroGrad();
    // Allocations between the passes would overwrite any activation handed back too early.
    for (let i = 0; i < 3; i++) model.forward(Tensor.randn([6, 1, 28, 28]));
    y.sum().backward();
    expect(model.parameters().map((p) => Array.from(p.grad!.toTypedArray()))).toEqual(first);
  });

  it("leaves alone what a custom layer caches", () => {
    const generator = new Generator(9);
    const cacheIn = new CacheInput();
    const cacheOut = new CacheOutput();
    const model = new Sequential(new Conv2d(1, 8, 3, { generator }), new Tanh(), cacheIn, new Tanh(), cacheOut, new Conv2d(8, 4, 3, { generator }), new Tanh());
    model.forward(Tensor.randn([4, 1, 28, 28])).sum().backward();
    const seenIn = cacheIn.last!;
    const seenOut = cacheOut.last!;
    const snapIn = Array.from(seenIn.toTypedArray());
    const snapOut = Array.from(seenOut.toTypedArray());
    for (let i = 0; i < 3; i++) model.forward(Tensor.randn([4, 1, 28, 28])).sum().backward();
    expect(Array.from(seenIn.toTypedArray())).toEqual(snapIn);
    expect(Array.from(seenOut.toTypedArray())).toEqual(snapOut);
  });

  it("never recycles the output a caller holds", () => {
    const model = referenceCnn(new Generator(10));
    const y = model.forward(Tensor.randn([64, 1, 28, 28]));
    const snap = Array.from(y.toTypedArray());
    y.sum().backward();
    for (let i = 0; i < 3; i++) model.forward(Tensor.randn([64, 1, 28, 28])).sum().backward();
    expect(Array.from(y.toTypedArray())).toEqual(snap);
  });
  it("hands back what a declaring user's module and a nested Sequential read and return, and keeps a subclass's, with gradients bit for bit", () => {
    const make = (middle: () => Module<[Tensor], Tensor>) => (): Sequential => {
      const generator = new Generator(11);
      return new Sequential(
        new Conv2d(1, 8, 3, { generator }),
        middle(),
        new Conv2d(8, 4, 3, { generator }),
        new Sequential(new Tanh(), new Conv2d(4, 4, 3, { generator })),
        new Tanh(),
      );
    };
    const x = Tensor.randn([4, 1, 28, 28]);
    const declared = make(() => new Scale());
    const off = train(declared(), false, 2, x);
    const keep = vi.spyOn(tracer, "keepPrivate");
    expect(train(declared(), true, 2, x)).toEqual(off);
    const kept = keep.mock.calls.flatMap((call) => call.slice(1).map((a) => a.length));
    // Scale's input and output (the first conv's size) on every step, as the nested Sequential's input and inner activation.
    expect(kept.filter((n) => n === 4 * 8 * 26 * 26).length).toBe(2 * 2);
    expect(kept.filter((n) => n === 4 * 4 * 24 * 24).length).toBe(2 * 2);
    keep.mockClear();
    const sub = make(() => new RememberingScale());
    expect(train(sub(), true, 2, x)).toEqual(off);
    expect(keep.mock.calls.flatMap((call) => call.slice(1).map((a) => a.length)).filter((n) => n === 4 * 8 * 26 * 26)).toEqual([]);
  });
  it("recycles around every other built-in layer that declares keepsNoReferences, with outputs and gradients bit for bit", () => {
    const make = (): Sequential => {
      const generator = new Generator(17);
      return new Sequential(
        new Conv2d(8, 8, 3, { padding: 1, generator }),
        new GELU(),
        new GroupNorm(2, 8),
        new SiLU(),
        new PReLU(),
        new Mish(),
        new ELU(),
        new Hardswish(),
        new Hardsigmoid(),
        new InstanceNorm2d(8, { affine: true }),
        new Upsample({ scaleFactor: 2 }),
        new AdaptiveMaxPool2d(16),
        new PixelShuffle(2),
        new PixelUnshuffle(2),
        new ConvTranspose2d(8, 8, 3, { padding: 1, generator }),
        new LayerNorm(16),
        new Dropout2d(0.25, { generator }),
        new Flatten(2),
        new Conv1d(8, 4, 3, { padding: 1, generator }),
      );
    };
    const x = Tensor.randn([4, 8, 16, 16]);
    const off = train(make(), false, 2, x);
    const keep = vi.spyOn(tracer, "keepPrivate");
    expect(train(make(), true, 2, x)).toEqual(off);
    // At least one array per intermediate and step (the operators' own private arrays come on top).
    expect(keep.mock.calls.length).toBeGreaterThanOrEqual(2 * 16);
    keep.mockRestore();
    const model = make().eval();
    Sequential.recycling = false;
    const evalOff = noGrad(() => Array.from(churn(model, x).toTypedArray()));
    Sequential.recycling = true;
    const recycled = spyRecycle();
    expect(noGrad(() => Array.from(churn(model, x).toTypedArray()))).toEqual(evalOff);
    // 18 intermediates per pass; evaluation's Dropout2d hands its input on and Flatten views it, so 16 buffers.
    expect(recycled.length).toBe(3 * 16);
  });
});
