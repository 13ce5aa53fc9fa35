import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import type { NamedWeight } from "./named-weight.js";

/** The networks the benchmark trains: DESIGN.md's LeNet-shaped one and the CIFAR-shaped one of issue 11. */
export type NetworkName = "reference" | "cifar";
export const NETWORK_NAMES: readonly NetworkName[] = ["reference", "cifar"];

/** Everything a benchmark worker needs: which network, its initial weights and the exact batches to use. */
export interface Workload {
  network: NetworkName;
  /** One image's shape [C, H, W]. */
  imageShape: number[];
  weights: NamedWeight[];
  batchSize: number;
  numBatches: number;
  /** Normalised images [numBatches * batchSize, ...imageShape]. */
  trainImages: Float32Array;
  trainLabels: Int32Array;
  inferBatch: number;
  /** Normalised images [inferBatch, ...imageShape]. */
  inferImages: Float32Array;
}

export function imageSize(workload: Pick<Workload, "imageShape">): number {
  return workload.imageShape.reduce((a, b) => a * b, 1);
}

export interface Batch {
  size: number;
  images: Float32Array;
  labels: Int32Array;
}

export function trainBatch(workload: Workload, index: number): Batch {
  if (index < 0 || index >= workload.numBatches) {
    throw new RangeError(`trainBatch: index must be in [0, ${workload.numBatches}), but got ${index}`);
  }
  const n = workload.batchSize;
  const size = imageSize(workload);
  return {
    size: n,
    images: workload.trainImages.subarray(index * n * size, (index + 1) * n * size),
    labels: workload.trainLabels.subarray(index * n, (index + 1) * n),
  };
}

/**
 * How many distinct batches of `batchSize` to load for `steps` steps from a set of `images` images: one a
 * step, or all the set holds, which the steps then go round again (trainBatch(step % numBatches)).
 */
export function distinctBatches(steps: number, images: number, batchSize: number): number {
  const held = Math.floor(images / batchSize);
  if (held < 1) throw new RangeError(`distinctBatches: ${images} images hold no batch of ${batchSize}`);
  return Math.max(1, Math.min(steps, held));
}

const MAGIC = "PICOBENCH2";

interface Header {
  network: NetworkName;
  imageShape: number[];
  weights: { name: string; shape: number[]; offset: number; length: number }[];
  batchSize: number;
  numBatches: number;
  trainImages: number;
  trainLabels: number;
  inferBatch: number;
  inferImages: number;
  totalBytes: number;
}

/**
 * A binary file (magic, JSON header, 4-byte aligned float32/int32 blocks) so workers read bit-exact
 * copies; torch-worker.py reads the same layout.
 */
export function writeWorkload(path: string, workload: Workload): void {
  let offset = 0;
  const place = (bytes: number): number => {
    const at = offset;
    offset += bytes;
    return at;
  };
  const header: Header = {
    network: workload.network,
    imageShape: workload.imageShape,
    weights: workload.weights.map((w) => ({ name: w.name, shape: w.shape, offset: place(w.data.byteLength), length: w.data.length })),
    batchSize: workload.batchSize,
    numBatches: workload.numBatches,
    trainImages: place(workload.trainImages.byteLength),
    trainLabels: place(workload.trainLabels.byteLength),
    inferBatch: workload.inferBatch,
    inferImages: place(workload.inferImages.byteLength),
    totalBytes: 0,
  };
  header.totalBytes = offset;
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const headerBytes = MAGIC.length + 4 + json.length;
  const dataStart = Math.ceil(headerBytes / 4) * 4;
  const file = Buffer.alloc(dataStart + offset);
  file.write(MAGIC, 0, "latin1");
  file.writeUInt32LE(json.length, MAGIC.length);
  json.copy(file, MAGIC.length + 4);
  const put = (at: number, array: Float32Array | Int32Array): void => {
    Buffer.from(array.buffer, array.byteOffset, array.byteLength).copy(file, dataStart + at);
  };
  workload.weights.forEach((w, i) => put(header.weights[i]!.offset, w.data));
  put(header.trainImages, workload.trainImages);
  put(header.trainLabels, workload.trainLabels);
  put(header.inferImages, workload.inferImages);
  writeFileSync(path, file);
}

/**
 * Reads a workload file straight into one aligned buffer: no whole-file Buffer is read first and
 * copied, since that 10 MB temporary would count in the peak RSS each worker reports.
 */
export function readWorkload(path: string): Workload {
  const fd = openSync(path, "r");
  try {
    return parseWorkload(path, fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, into: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`readWorkload: ${path} ends after ${position + done} bytes, before the data its header promises`);
    done += n;
  }
}

function parseWorkload(path: string, fd: number, fileBytes: number): Workload {
  const prefix = new Uint8Array(MAGIC.length + 4);
  if (fileBytes < prefix.length) throw new Error(`readWorkload: ${path} is not a benchmark workload file (bad magic)`);
  readExactly(fd, prefix, 0, path);
  const prefixBuffer = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (prefixBuffer.toString("latin1", 0, MAGIC.length) !== MAGIC) {
    throw new Error(`readWorkload: ${path} is not a benchmark workload file (bad magic)`);
  }
  const jsonLength = prefixBuffer.readUInt32LE(MAGIC.length);
  if (prefix.length + jsonLength > fileBytes) throw new Error(`readWorkload: ${path} is shorter than its ${jsonLength}-byte header`);
  const json = new Uint8Array(jsonLength);
  readExactly(fd, json, prefix.length, path);
  const header = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString("utf8")) as Header;
  const dataStart = Math.ceil((MAGIC.length + 4 + jsonLength) / 4) * 4;
  if (fileBytes !== dataStart + header.totalBytes) {
    throw new Error(`readWorkload: ${path} holds ${fileBytes} bytes, but its header promises ${dataStart + header.totalBytes}`);
  }
  // A fresh buffer of its own, so every float32/int32 block is aligned.
  const data = new Uint8Array(header.totalBytes);
  readExactly(fd, data, dataStart, path);
  const floats = (at: number, length: number): Float32Array => new Float32Array(data.buffer, at, length);
  const trainCount = header.numBatches * header.batchSize;
  const size = imageSize(header);
  return {
    network: header.network,
    imageShape: header.imageShape,
    weights: header.weights.map((w) => ({ name: w.name, shape: w.shape, data: floats(w.offset, w.length) })),
    batchSize: header.batchSize,
    numBatches: header.numBatches,
    trainImages: floats(header.trainImages, trainCount * size),
    trainLabels: new Int32Array(data.buffer, header.trainLabels, trainCount),
    inferBatch: header.inferBatch,
    inferImages: floats(header.inferImages, header.inferBatch * size),
  };
}
