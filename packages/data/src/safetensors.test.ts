import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PicoError, Tensor, tensor } from "@pico/core";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointError } from "./errors.js";
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from "./safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "pico-safetensors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ascii = (s: string): number[] => Array.from(Buffer.from(s, "utf8"));
const u64 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255, 0, 0, 0, 0];
const f32 = (...values: number[]): number[] => values.flatMap((v) => Array.from(new Uint8Array(Float32Array.of(v).buffer)));

/** The file bytes for a header text and data bytes. */
const file = (header: string, data: number[]): Uint8Array => Uint8Array.from([...u64(Buffer.byteLength(header)), ...ascii(header), ...data]);

function refuse(bytes: Uint8Array, pattern: RegExp, name = "bad.safetensors"): void {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  let error: unknown;
  try {
    loadSafetensors(path);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CheckpointError);
  expect(error).toBeInstanceOf(PicoError);
  expect((error as Error).message).toContain(path);
  expect((error as Error).message).toMatch(pattern);
}

describe("safetensors", () => {
  it("writes the same bytes as the reference implementation's own test (F32 in place of I32)", () => {
    // huggingface/safetensors bindings/python/tests/test_simple.py: save({"test": zeros((2, 2), int32)}).
    const expected = file(`{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}    `, new Array<number>(16).fill(0));
    expect(Array.from(encodeSafetensors({ test: Tensor.zeros([2, 2]) }))).toEqual(Array.from(expected));
  });

  it("pads the header with spaces to 8-byte alignment and lays tensors out in header order", () => {
    const bytes = encodeSafetensors({ b: tensor([1, 2, 3]), a: tensor([[4]], { dtype: "float64" }) }, { note: "x" });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8");
    expect(header).toMatch(/^\{"__metadata__":\{"note":"x"\},"b":.*,"a":.*\} *$/);
    const parsed = JSON.parse(header) as Record<string, { data_offsets: number[] }>;
    expect(parsed.b!.data_offsets).toEqual([0, 12]);
    expect(parsed.a!.data_offsets).toEqual([12, 20]);
    expect(view.getFloat32(8 + n + 4, true)).toBe(2);
    expect(view.getFloat64(8 + n + 12, true)).toBe(4);
  });

  it("reads a file written byte by byte per the specification", () => {
    const header = `{"w":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]},"__metadata__":{"framework":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`;
    const { tensors, metadata } = decodeSafetensors(file(header, [...f32(0.5, -2), ...f32(1e-3, 3e38)]), "hand");
    expect(metadata).toEqual({ framework: "pt" });
    expect(tensors.w!.shape).toEqual([2, 1]);
    expect(Array.from(tensors.w!.toTypedArray())).toEqual(Array.from(Float32Array.of(1e-3, 3e38)));
    expect(Array.from(tensors.b!.toTypedArray())).toEqual([0.5, -2]);
    expect(tensors.b!.dtype).toBe("float32");
  });

  it("round-trips F32 and F64, 0-d, empty and strided tensors, metadata and numeric names", () => {
    const path = join(dir, "round.safetensors");
    const strided = tensor([[1, 2, 3], [4, 5, 6]]).transpose();
    const input = {
      "conv1.weight": Tensor.randn([2, 1, 3, 3]),
      double: tensor([Math.PI, -1e-300, 1e300], { dtype: "float64" }),
      scalar: tensor(7.25),
      empty: Tensor.zeros([0, 4]),
      strided,
      "0": tensor([9]),
    };
    saveSafetensors(path, input, { epoch: "3", "free text": "ünïcødé" });
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    const { tensors, metadata } = loadSafetensors(path);
    expect(metadata).toEqual({ epoch: "3", "free text": "ünïcødé" });
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(input).sort());
    for (const [name, t] of Object.entries(input)) {
      expect(tensors[name]!.shape).toEqual(t.shape);
      expect(tensors[name]!.dtype).toBe(t.dtype);
      expect(Array.from(tensors[name]!.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
    }
    expect(tensors.scalar!.item()).toBe(7.25);
    expect(tensors.strided!.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  it("writes PyTorch's integer buffer num_batches_tracked as I64, and reads integer dtypes as float64", () => {
    const bytes = encodeSafetensors({ "1.running_mean": tensor([0.5, 1]), "1.num_batches_tracked": tensor(12), steps: tensor([3, -4]) }, undefined, {
      dtypes: { steps: "I64" },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8")) as Record<string, { dtype: string; data_offsets: number[] }>;
    expect(header["1.running_mean"]!.dtype).toBe("F32");
    expect(header["1.num_batches_tracked"]!.dtype).toBe("I64");
    expect(header.steps!.dtype).toBe("I64");
    const data = new DataView(bytes.buffer, 8 + n);
    expect(data.getBigInt64(header["1.num_batches_tracked"]!.data_offsets[0]!, true)).toBe(12n);
    expect(data.getBigInt64(header.steps!.data_offsets[0]! + 8, true)).toBe(-4n);
    const { tensors } = decodeSafetensors(bytes);
    expect(tensors["1.num_batches_tracked"]!.dtype).toBe("float64");
    expect(tensors["1.num_batches_tracked"]!.item()).toBe(12);
    expect(tensors.steps!.toArray()).toEqual([3, -4]);
    const ints = (dtype: string, raw: number[], shape: number): Uint8Array => file(`{"a":{"dtype":"${dtype}","shape":[${shape}],"data_offsets":[0,${raw.length}]}}`, raw);
    expect(decodeSafetensors(ints("I32", [0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0], 2)).tensors.a!.toArray()).toEqual([-1, 7]);
    expect(decodeSafetensors(ints("I16", [0xfe, 0xff], 1)).tensors.a!.toArray()).toEqual([-2]);
    expect(decodeSafetensors(ints("I8", [0x80], 1)).tensors.a!.toArray()).toEqual([-128]);
    expect(decodeSafetensors(ints("U8", [0x80], 1)).tensors.a!.toArray()).toEqual([128]);
    refuse(ints("I64", [0, 0, 0, 0, 0, 0, 0x40, 0], 1), /tensor a \(I64\) holds 18014398509481984 at element 0, beyond 2\^53/);
    expect(() => encodeSafetensors({ "bn.num_batches_tracked": tensor(1.5) })).toThrow(
      "saveSafetensors: bn.num_batches_tracked is written as I64, so its values must be integers of magnitude at most 2^53, but element 0 is 1.5",
    );
    expect(() => encodeSafetensors({ a: tensor(1) }, undefined, { dtypes: { a: "I32" as "I64" } })).toThrow('saveSafetensors: dtypes.a must be "F32", "F64" or "I64", but got "I32"');
    const asF64 = decodeSafetensors(encodeSafetensors({ a: tensor([0.1]) }, undefined, { dtypes: { a: "F64" } })).tensors.a!;
    expect(asF64.dtype).toBe("float64");
    expect(asF64.item()).toBe(Math.fround(0.1));
  });

  it("takes a Map and refuses a reserved name or non-string metadata", () => {
    const bytes = encodeSafetensors(new Map([["x", tensor([1])]]));
    expect(decodeSafetensors(bytes).tensors.x!.toArray()).toEqual([1]);
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrow(/__metadata__ is reserved/);
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(/metadata values must be strings, but n is number/);
  });

  it("refuses the file cut at any point", () => {
    const bytes = encodeSafetensors({ a: Tensor.ones([3, 5]), b: tensor([1, 2], { dtype: "float64" }) }, { k: "v" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const cuts = [0, 5, 8, 8 + Math.floor(n / 2), 8 + n, 8 + n + 30, bytes.length - 1];
    for (const cut of cuts) {
      refuse(bytes.subarray(0, cut), /too short|bad header length|outside the \d+ data bytes|after the last tensor/, `cut-${cut}.safetensors`);
    }
    refuse(bytes.subarray(0, 5), /file too short: 5 bytes/);
    refuse(bytes.subarray(0, 8 + 10), new RegExp(`bad header length ${n}: the file has only 10 bytes after the length`));
    refuse(bytes.subarray(0, bytes.length - 1), /tensor b has data_offsets \[60, 76\] outside the 75 data bytes \(truncated file\?\)/);
  });

  it("refuses foreign or inconsistent files with the reason", () => {
    refuse(Uint8Array.from([...u64(0), 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0]), /too short|bad header length|not valid JSON/);
    const huge = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1, ...ascii("{}")]);
    refuse(huge, /bad header length 72057594037927936 \(more than 100000000 bytes\): not a safetensors file/);
    refuse(Uint8Array.from(readFileSync(new URL(import.meta.url))).subarray(0, 64), /bad header length|not valid/);
    refuse(file("{not json}", []), /the header is not valid JSON/);
    refuse(file("[1,2]", []), /the header must be a JSON object/);
    refuse(file(`{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, [0, 0]), /tensor a has dtype BF16, which is not supported \(supported: F32, F64, I64, I32, I16, I8, U8\)/);
    refuse(file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, new Array<number>(8).fill(0)), /tensor a of dtype F32 and shape \[3\] needs 12 bytes, but data_offsets \[0, 8\] hold 8/);
    refuse(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, new Array<number>(8).fill(0)), /tensor a \(bytes \[0, 8\]\) overlaps tensor b \(bytes \[4, 8\]\)|tensor b .* overlaps tensor a/);
    refuse(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, new Array<number>(8).fill(0)), /4 bytes before tensor a belong to no tensor/);
    refuse(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, new Array<number>(8).fill(0)), /4 bytes after the last tensor belong to no tensor/);
    refuse(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, new Array<number>(4).fill(0)), /tensor a has invalid data_offsets \[4,0\]/);
    refuse(file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, new Array<number>(4).fill(0)), /tensor a has an invalid shape \[-1\]/);
    refuse(file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, new Array<number>(4).fill(0)), /tensor a has no dtype string/);
    refuse(file(`{"__metadata__":{"n":1}}`, []), /__metadata__.n must be a string, but is 1/);
    refuse(Uint8Array.from([...u64(2), 0xc3, 0x28]), /the header is not valid UTF-8/);
    expect(() => loadSafetensors(join(dir, "missing.safetensors"))).toThrow(/loadSafetensors: cannot read .*missing.safetensors/);
  });
});
