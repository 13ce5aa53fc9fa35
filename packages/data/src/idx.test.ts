import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PicoError } from "@pico/core";
import { afterAll, describe, expect, it } from "vitest";
import { IdxFormatError } from "./errors.js";
import { type IdxArray, encodeIdx, readIdx, readIdxBuffer } from "./idx.js";

const dir = mkdtempSync(join(tmpdir(), "pico-idx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Builds an IDX file byte by byte, independently of encodeIdx. */
function handMade(code: number, dims: number[], payload: number[]): Uint8Array {
  const header = [0, 0, code, dims.length];
  for (const d of dims) header.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return Uint8Array.from([...header, ...payload]);
}

const samples: IdxArray[] = [
  { dtype: "ubyte", shape: [2, 3], data: Uint8Array.from([0, 1, 127, 128, 254, 255]) },
  { dtype: "byte", shape: [5], data: Int8Array.from([-128, -1, 0, 1, 127]) },
  { dtype: "short", shape: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
  { dtype: "int", shape: [3], data: Int32Array.from([-2147483648, 16909060, 2147483647]) },
  { dtype: "float", shape: [1, 3], data: Float32Array.from([-1.5, 0.1, 3e38]) },
  { dtype: "double", shape: [2, 1, 2], data: Float64Array.from([Math.PI, -1e-300, 0, 1e300]) },
];

describe("readIdx", () => {
  it("reads a ubyte file written by hand: dims big-endian, data row-major", () => {
    const path = write("hand-ubyte", handMade(0x08, [2, 3], [1, 2, 3, 4, 5, 6]));
    const { dtype, shape, data } = readIdx(path);
    expect(dtype).toBe("ubyte");
    expect(shape).toEqual([2, 3]);
    expect(data).toBeInstanceOf(Uint8Array);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("reads big-endian shorts and a dim above 255 written by hand", () => {
    const payload: number[] = [];
    for (let i = 0; i < 300; i++) payload.push((i >> 8) & 255, i & 255);
    const { shape, data } = readIdx(write("hand-short", handMade(0x0b, [300], payload)));
    expect(shape).toEqual([300]);
    expect(data).toBeInstanceOf(Int16Array);
    expect(data[0]).toBe(0);
    expect(data[258]).toBe(258);
  });

  for (const sample of samples) {
    it(`round-trips ${sample.dtype} ${JSON.stringify(sample.shape)}, plain and gzip`, () => {
      const bytes = encodeIdx(sample);
      for (const [name, content] of [
        [`${sample.dtype}.idx`, bytes],
        [`${sample.dtype}.idx.gz`, gzipSync(bytes)],
        [`${sample.dtype}-gzip-without-suffix`, gzipSync(bytes)],
      ] as const) {
        const read = readIdx(write(name, content));
        expect(read.dtype).toBe(sample.dtype);
        expect(read.shape).toEqual(sample.shape);
        expect(read.data.constructor).toBe(sample.data.constructor);
        expect(Array.from(read.data)).toEqual(Array.from(sample.data));
      }
    });
  }

  it("reads from memory with readIdxBuffer and does not alias the input", () => {
    const bytes = encodeIdx(samples[0]!);
    const read = readIdxBuffer(bytes, "mem");
    bytes[bytes.length - 1] = 9;
    expect(read.data[5]).toBe(255);
  });

  it("reads zero-sized arrays", () => {
    const read = readIdx(write("empty", handMade(0x08, [0, 28, 28], [])));
    expect(read.shape).toEqual([0, 28, 28]);
    expect(read.data.length).toBe(0);
  });
});

describe("readIdx refusals", () => {
  const refuse = (name: string, bytes: Uint8Array, pattern: RegExp): void => {
    const path = write(name, bytes);
    let error: unknown;
    try {
      readIdx(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IdxFormatError);
    expect(error).toBeInstanceOf(PicoError);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toMatch(pattern);
  };

  it("refuses a wrong magic number", () => {
    refuse("magic", Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), /wrong magic number 0x50 0x4b 0x03 0x04/);
  });

  it("refuses an unknown element type", () => {
    refuse("dtype", handMade(0x0a, [1], [0]), /unknown element type code 0x0a/);
  });

  it("refuses a file too short for its header", () => {
    refuse("tiny", Uint8Array.from([0, 0]), /too short for an IDX header: 2 bytes/);
    refuse("short-dims", handMade(0x08, [3, 4], []).subarray(0, 9), /truncated header: 2 dimensions need 12 header bytes, but the file has 9/);
  });

  it("refuses a file shorter than its dims say", () => {
    refuse("short", handMade(0x08, [2, 3], [1, 2, 3, 4, 5]), /truncated: dims \[2, 3\] of ubyte need 6 data bytes, but only 5 follow the header/);
    refuse("short-int", handMade(0x0c, [2], [0, 0, 0, 1, 0, 0, 0]), /need 8 data bytes, but only 7/);
  });

  it("refuses a file longer than its dims say", () => {
    refuse("long", handMade(0x08, [2, 3], [1, 2, 3, 4, 5, 6, 7, 8]), /2 unexpected bytes after the data: dims \[2, 3\] of ubyte need 6 data bytes/);
  });

  it("refuses a truncated gzip file and never returns partial data", () => {
    const gz = gzipSync(encodeIdx({ dtype: "ubyte", shape: [100, 10], data: new Uint8Array(1000).fill(7) }));
    refuse("cut.gz", gz.subarray(0, gz.length - 10), /corrupt or truncated gzip data/);
    refuse("cut-early.gz", gz.subarray(0, 12), /corrupt or truncated gzip data/);
  });

  it("refuses a gzip whose content is truncated IDX", () => {
    const bytes = encodeIdx({ dtype: "float", shape: [4], data: new Float32Array(4) });
    refuse("inner-short.gz", gzipSync(bytes.subarray(0, bytes.length - 1)), /truncated: dims \[4\] of float need 16 data bytes, but only 15/);
  });

  it("refuses a missing file", () => {
    expect(() => readIdx(join(dir, "nope"))).toThrow(/readIdx: cannot read .*nope/);
  });
});
