import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Tensor, manualSeed } from "@pico/core";
import { describe, expect, it, onTestFinished } from "vitest";
import * as bytesEntry from "./bytes.js";
import { CheckpointError, DatasetError, MnistDigits, decodeCheckpoint, encodeCheckpoint, encodeIdx, mnistDigitFromPixels, readIdxBuffer } from "./bytes.js";
import * as mainEntry from "./index.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Every module the entry reaches through relative imports, and every bare specifier they import. */
function importGraph(entry: string): { files: string[]; specifiers: Set<string> } {
  const files: string[] = [];
  const specifiers = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)) {
      const specifier = match[1] ?? match[2]!;
      if (specifier.startsWith(".")) pending.push(join(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else specifiers.add(specifier);
    }
  }
  return { files, specifiers };
}

describe("@pico/data/bytes", () => {
  it("reaches no Node module, no file system and no sharp", () => {
    const { files, specifiers } = importGraph(join(here, "bytes.ts"));
    expect(files.length).toBeGreaterThan(10);
    expect([...specifiers].sort()).toEqual(["@pico/core", "fflate"]);
  });

  it("decodes gzip-compressed IDX bytes without node:zlib", () => {
    const array = { dtype: "ubyte" as const, shape: [2, 3], data: Uint8Array.from([0, 1, 2, 253, 254, 255]) };
    const decoded = readIdxBuffer(gzipSync(encodeIdx(array)), "digits.idx.gz");
    expect(decoded.shape).toEqual([2, 3]);
    expect(Array.from(decoded.data)).toEqual([0, 1, 2, 253, 254, 255]);
    const truncated = gzipSync(encodeIdx(array)).subarray(0, 12);
    expect(() => readIdxBuffer(truncated, "cut.gz")).toThrow(/readIdx: cut\.gz: corrupt or truncated gzip data/);
  });

  it("encodes a checkpoint byte for byte as saveCheckpoint writes it, and decodes what loadCheckpoint reads", () => {
    manualSeed(3);
    const weight = Tensor.randn([3, 2]);
    const state = { model: { "fc.weight": weight }, optimizer: { step: 7, exp_avg: [Tensor.ones([2])] }, epoch: 2 };
    const bytes = encodeCheckpoint(state);
    const dir = mkdtempSync(join(tmpdir(), "pico-bytes-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "c.safetensors");
    saveCheckpoint(path, state);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes))).toBe(true);
    const decoded = decodeCheckpoint(bytes, "c.safetensors");
    const loaded = loadCheckpoint(path);
    expect(Array.from(decoded.model["fc.weight"]!.toTypedArray())).toEqual(Array.from(weight.toTypedArray()));
    expect(decoded.epoch).toBe(2);
    expect((decoded.optimizer as { step: number }).step).toBe(7);
    expect(Array.from(((loaded.optimizer as { exp_avg: Tensor[] }).exp_avg[0]!).toTypedArray())).toEqual([1, 1]);
    expect(() => encodeCheckpoint({ model: {}, epoch: 1.5 })).toThrow("encodeCheckpoint: epoch must be an integer, but got 1.5");
    expect(() => decodeCheckpoint(bytes.subarray(0, 5), "cut.safetensors")).toThrow(CheckpointError);
  });

  it("exports the digit preprocessing predict uses", () => {
    const pixels = new Uint8Array(56 * 56).fill(255);
    for (let y = 10; y < 46; y++) for (let x = 26; x < 31; x++) pixels[y * 56 + x] = 0;
    const digit = mnistDigitFromPixels({ width: 56, height: 56, channels: 1, data: pixels });
    expect(digit.length).toBe(28 * 28);
    const raw = mnistDigitFromPixels({ width: 56, height: 56, channels: 1, data: pixels }, { normalize: false });
    // A centred vertical stroke: ink on the middle column, page at the edges.
    expect(raw[14 * 28 + 14]).toBeGreaterThan(0.5);
    expect(raw[14 * 28 + 3]).toBe(0);
  });

  it("reads MNIST digits from IDX bytes", () => {
    const pixels = new Uint8Array(2 * 784);
    pixels[784 + 5] = 255;
    const images = readIdxBuffer(encodeIdx({ dtype: "ubyte", shape: [2, 28, 28], data: pixels }));
    const labels = readIdxBuffer(encodeIdx({ dtype: "ubyte", shape: [2], data: Uint8Array.of(7, 3) }));
    const digits = new MnistDigits(images, labels);
    const out = new Float32Array(784);
    expect(digits.getInto(1, out, 0)).toBe(3);
    expect(out[5]).toBe(1);
    expect(digits.get(0).target).toBe(7);
    const three = readIdxBuffer(encodeIdx({ dtype: "ubyte", shape: [3], data: Uint8Array.of(1, 2, 3) }));
    expect(() => new MnistDigits(images, three, { labelsName: "l.idx" })).toThrow(new DatasetError("MNIST: images holds 2 images but l.idx holds 3 labels"));
  });

  it("has the image transforms of the main entry (the same functions), composable in any runtime", () => {
    const names = ["applyTransform", "transformedShape", "compose", "normalize", "randomAffine", "warpAffine", "randomCrop", "centerCrop", "randomHorizontalFlip", "resize"] as const;
    for (const name of names) expect(bytesEntry[name], name).toBe(mainEntry[name]);
    const { applyTransform, centerCrop, compose, randomCrop, randomHorizontalFlip, resize, transformedShape } = bytesEntry;
    // 1..16 in a 4x4 image: the centre 2x2 is 6 7 / 10 11, flipped 7 6 / 11 10, then every pixel doubled.
    const pipeline = compose(centerCrop(2), randomHorizontalFlip(1), randomCrop(2), resize([4, 4], { interpolation: "nearest" }));
    expect(transformedShape(pipeline, [1, 4, 4])).toEqual([1, 4, 4]);
    const image = Tensor.arange(1, 17).reshape([1, 4, 4]);
    expect(Array.from(applyTransform(pipeline, image).toTypedArray())).toEqual([7, 7, 6, 6, 7, 7, 6, 6, 11, 11, 10, 10, 11, 11, 10, 10]);
  });
});
