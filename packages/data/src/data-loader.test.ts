import { Generator, ShapeError, type Tensor, defaultGenerator, manualSeed, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { DataLoader } from "./data-loader.js";
import { type Dataset, TensorDataset } from "./dataset.js";
import { centerCrop } from "./transforms/center-crop.js";

/** Sample i is the [1, 2] input [i, -i] with target i. */
function numbered(n: number): TensorDataset {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) x.set([i, -i], 2 * i);
  return new TensorDataset(tensor(x, { shape: [n, 1, 2] }), Array.from({ length: n }, (_, i) => i));
}

const targetsOf = (loader: Iterable<[Tensor, Tensor]>): number[][] => Array.from(loader, ([, t]) => Array.from(t.toTypedArray()));

describe("DataLoader", () => {
  it("batches in order with a short last batch: [B, ...sampleShape] inputs and [B] targets", () => {
    const loader = new DataLoader(numbered(10), { batchSize: 4 });
    expect(loader.length).toBe(3);
    const batches = Array.from(loader);
    expect(batches.map(([x]) => x.shape)).toEqual([[4, 1, 2], [4, 1, 2], [2, 1, 2]]);
    const [x1, t1] = batches[1]!;
    expect(x1.toArray()).toEqual([[[4, -4]], [[5, -5]], [[6, -6]], [[7, -7]]]);
    expect(t1.dtype).toBe("float32");
    expect(Array.from(t1.toTypedArray())).toEqual([4, 5, 6, 7]);
  });

  it("drops the short last batch with dropLast", () => {
    const loader = new DataLoader(numbered(10), { batchSize: 4, dropLast: true });
    expect(loader.length).toBe(2);
    expect(targetsOf(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(new DataLoader(numbered(8), { batchSize: 4, dropLast: true }).length).toBe(2);
    expect(new DataLoader(numbered(3), { batchSize: 4, dropLast: true }).length).toBe(0);
    expect(Array.from(new DataLoader(numbered(0), { batchSize: 4 }))).toEqual([]);
  });

  it("shuffles every sample exactly once per epoch, differently each epoch, repeatably per seed", () => {
    const a = new DataLoader(numbered(50), { batchSize: 7, shuffle: true, seed: 3 });
    const epoch0 = targetsOf(a).flat();
    const epoch1 = targetsOf(a).flat();
    expect(a.epoch).toBe(2);
    expect([...epoch0].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...epoch1].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epoch0).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epoch1).not.toEqual(epoch0);
    const b = new DataLoader(numbered(50), { batchSize: 7, shuffle: true, seed: 3 });
    expect(targetsOf(b).flat()).toEqual(epoch0);
    expect(targetsOf(b).flat()).toEqual(epoch1);
    const c = new DataLoader(numbered(50), { batchSize: 7, shuffle: true, seed: 4 });
    expect(targetsOf(c).flat()).not.toEqual(epoch0);
  });

  it("resumes any epoch with setEpoch, and inside an epoch with batches(epoch, startBatch)", () => {
    const a = new DataLoader(numbered(20), { batchSize: 3, shuffle: true, seed: 11 });
    const runs = [targetsOf(a), targetsOf(a), targetsOf(a)];
    const b = new DataLoader(numbered(20), { batchSize: 3, shuffle: true, seed: 11 });
    b.setEpoch(2);
    expect(targetsOf(b)).toEqual(runs[2]);
    expect(b.epoch).toBe(3);
    expect(targetsOf({ [Symbol.iterator]: () => b.batches(1, 4) })).toEqual(runs[1]!.slice(4));
    expect(b.epoch).toBe(3);
    expect(Array.from(b.order(0))).toEqual(runs[0]!.flat());
  });

  it("draws its default seed from the global generator, only when shuffling", () => {
    manualSeed(5);
    const a = targetsOf(new DataLoader(numbered(30), { batchSize: 30, shuffle: true }));
    manualSeed(5);
    const b = targetsOf(new DataLoader(numbered(30), { batchSize: 30, shuffle: true }));
    expect(a).toEqual(b);
    manualSeed(5);
    const before = new Generator(0).setState(defaultGenerator.getState()).random();
    new DataLoader(numbered(30), { batchSize: 30 });
    expect(defaultGenerator.random()).toBe(before);
  });

  it("gives every batch its own buffer, so earlier batches stay intact", () => {
    const batches = Array.from(new DataLoader(numbered(4), { batchSize: 2 }));
    expect(batches[0]![0].data.data).not.toBe(batches[1]![0].data.data);
    expect(batches[0]![0].toArray()).toEqual([[[0, -0]], [[1, -1]]]);
  });

  it("with reuseBuffer, writes every batch into one buffer: the same tensors, the values of fresh batches, the version moved", () => {
    const fresh = new DataLoader(numbered(10), { batchSize: 4, shuffle: true, seed: 3 });
    const reused = new DataLoader(numbered(10), { batchSize: 4, shuffle: true, seed: 3, reuseBuffer: true });
    const it = reused.batches(1);
    let previous: Tensor | null = null;
    const buffers = new Set<ArrayBufferLike>();
    for (const [x, t] of fresh.batches(1)) {
      const [rx, rt] = it.next().value!;
      expect(rx.shape).toEqual(x.shape);
      expect(rx.toArray()).toEqual(x.toArray());
      expect(Array.from(rt.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
      if (previous !== null && rx.shape[0] === previous.shape[0]) expect(rx).toBe(previous);
      buffers.add((rx.data.data as Float32Array).buffer);
      previous = rx;
    }
    expect(it.next().done).toBe(true);
    // Two full batches and the last of 2, all in one buffer.
    expect(buffers.size).toBe(1);
    expect(previous!.shape).toEqual([2, 1, 2]);
    const [first] = reused.batches(0).next().value!;
    const version = first.version;
    const again = reused.batches(0);
    again.next();
    expect(again.next().value![0].version).toBe(version + 2);
  });

  it("with reuseBuffer, a short last batch moves the full-size tensors' versions too: a backward that saved them throws", () => {
    const loader = new DataLoader(numbered(6), { batchSize: 4, reuseBuffer: true });
    const it = loader.batches(0);
    const [x, t] = it.next().value!;
    const w = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], requiresGrad: true });
    const v = tensor([1, 1, 1, 1], { requiresGrad: true });
    const y = x.reshape(4, 2).matmul(w).sum();
    const z = t.mul(v).sum();
    const [xVersion, tVersion] = [x.version, t.version];
    const [x2, t2] = it.next().value!;
    expect(x2.shape).toEqual([2, 1, 2]);
    expect(x2.toArray()).toEqual([[[4, -4]], [[5, -5]]]);
    expect(Array.from(t2.toTypedArray())).toEqual([4, 5]);
    // The short batch wrote over the first rows of the full-size pair's values.
    expect(Array.from(x.toTypedArray().subarray(0, 4))).toEqual([4, -4, 5, -5]);
    expect(x.version).toBeGreaterThan(xVersion);
    expect(t.version).toBeGreaterThan(tVersion);
    expect(() => y.backward()).toThrow(/modified by an inplace operation/);
    expect(() => z.backward()).toThrow(/modified by an inplace operation/);
    expect(w.grad).toBeNull();
    expect(v.grad).toBeNull();
  });

  it("with reuseBuffer and allocate, writes the batches into the buffers allocate made; refuses allocate without reuseBuffer and a wrong array", () => {
    const made: Float32Array[] = [];
    const loader = new DataLoader(numbered(6), {
      batchSize: 4,
      reuseBuffer: true,
      allocate: (n) => {
        made.push(new Float32Array(new SharedArrayBuffer(4 * (n + 2)), 8, n));
        return made[made.length - 1]!;
      },
    });
    const [x, t] = loader.batches(0).next().value!;
    expect(made.map((a) => a.length)).toEqual([8, 4]);
    // The batch's tensors view the allocated memory (a subarray of the length of the batch).
    expect([x.data.data.buffer, x.data.data.byteOffset, t.data.data.buffer]).toEqual([made[0]!.buffer, 8, made[1]!.buffer]);
    expect(x.data.data.buffer).toBe(made[0]!.buffer);
    expect(Array.from(made[0]!)).toEqual([0, -0, 1, -1, 2, -2, 3, -3]);
    expect(Array.from(made[1]!)).toEqual([0, 1, 2, 3]);
    expect(() => new DataLoader(numbered(6), { batchSize: 4, allocate: (n) => new Float32Array(n) })).toThrow(
      "DataLoader: allocate needs reuseBuffer: true (it makes the one buffer every batch is written into; without reuseBuffer each batch has its own)",
    );
    const short = new DataLoader(numbered(6), { batchSize: 4, reuseBuffer: true, allocate: (n) => new Float32Array(n - 1) });
    expect(() => short.batches(0).next()).toThrow("DataLoader: allocate must return a Float32Array of the 8 floats asked for, but returned a Float32Array of 7");
  });

  it("with reuseBuffer, crops and resizes through its scratch slot as fresh batches do", () => {
    const images = new TensorDataset(tensor(Float32Array.from({ length: 5 * 16 }, (_, i) => i), { shape: [5, 1, 4, 4] }), [0, 1, 2, 3, 4]);
    const crop = centerCrop(2);
    const fresh = Array.from(new DataLoader(images, { batchSize: 2, transform: crop }), ([x]) => x.toArray());
    const reused = Array.from(new DataLoader(images, { batchSize: 2, transform: crop, reuseBuffer: true }), ([x]) => x.toArray());
    expect(reused).toEqual(fresh);
    expect(fresh[2]).toEqual([[[[69, 70], [73, 74]]]]);
  });

  it("applies its transform in place inside the batch buffer", () => {
    const seen: number[] = [];
    const loader = new DataLoader(numbered(3), {
      batchSize: 3,
      transform: (data, offset, shape) => {
        seen.push(offset);
        expect(shape).toEqual([1, 2]);
        data[offset] = data[offset]! * 10;
      },
    });
    const [x] = Array.from(loader)[0]!;
    expect(seen).toEqual([0, 2, 4]);
    expect(x.toArray()).toEqual([[[0, -0]], [[10, -1]], [[20, -2]]]);
  });

  it("batches a data set that only has get(i), and refuses samples of different shapes", () => {
    const plain: Dataset = { length: 3, get: (i) => ({ input: tensor([[i, i]]).transpose(), target: 2 * i }) };
    const [x, t] = Array.from(new DataLoader(plain, { batchSize: 3 }))[0]!;
    expect(x.shape).toEqual([3, 2, 1]);
    expect(x.toArray()).toEqual([[[0], [0]], [[1], [1]], [[2], [2]]]);
    expect(Array.from(t.toTypedArray())).toEqual([0, 2, 4]);
    const ragged: Dataset = { length: 2, get: (i) => ({ input: tensor(new Float32Array(i + 1)), target: 0 }) };
    expect(() => Array.from(new DataLoader(ragged, { batchSize: 2 }))).toThrow(ShapeError);
    expect(() => Array.from(new DataLoader(ragged, { batchSize: 2 }))).toThrow(/every sample must have shape \[1\] to be batched, but sample 1 has shape \[2\]/);
  });

  it("fills the batch through getInto, never through get, when the data set offers it", () => {
    const fast: Dataset = {
      length: 5,
      sampleShape: [2],
      get: () => {
        throw new Error("get must not be called");
      },
      getInto: (i, out, offset) => {
        out[offset] = i;
        out[offset + 1] = 10 * i;
        return i + 1;
      },
    };
    const batches = Array.from(new DataLoader(fast, { batchSize: 2 }));
    expect(batches.map(([x]) => x.toArray())).toEqual([[[0, 0], [1, 10]], [[2, 20], [3, 30]], [[4, 40]]]);
    expect(batches.map(([, t]) => t.toArray())).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("refuses bad options", () => {
    expect(() => new DataLoader(numbered(3), { batchSize: 0 })).toThrow(/batchSize must be a positive integer, but got 0/);
    expect(() => new DataLoader(numbered(3), { seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(() => new DataLoader(numbered(3)).setEpoch(-1)).toThrow(/epoch must be a non-negative integer/);
    expect(() => new DataLoader(numbered(3), { reuseBuffer: "yes" as unknown as boolean })).toThrow(/DataLoader: reuseBuffer must be true or false, but got yes/);
  });
});
