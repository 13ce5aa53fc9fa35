import { Tensor, tensor } from "@pico/core";
import { CheckpointError } from "./errors.js";

/** Named tensors, as a plain object or a Map (e.g. a module's stateDict()). */
export type TensorMap = Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>;

export interface SafetensorsContents {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES = { F32: 4, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1 } as const;
type SafeDType = keyof typeof DTYPE_BYTES;
/** The dtypes a tensor can be written as; every dtype of DTYPE_BYTES can be read. */
export type SafetensorsWriteDType = "F32" | "F64" | "I64";

export interface EncodeSafetensorsOptions {
  /**
   * The dtype to write each named tensor as. Default: I64 for PyTorch's integer buffers (keys whose
   * last segment is `num_batches_tracked`), else F32 or F64 by the tensor's dtype. I64 needs
   * integer values of magnitude at most 2^53.
   */
  dtypes?: Readonly<Record<string, SafetensorsWriteDType>>;
}

/** Keys PyTorch stores as int64 (BatchNorm's batch counter), by last segment. */
const INTEGER_KEYS: ReadonlySet<string> = new Set(["num_batches_tracked"]);
const MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function tensorEntries(tensors: TensorMap): [string, Tensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Readonly<Record<string, Tensor>>);
}

/**
 * Encodes tensors in the safetensors format: an 8-byte little-endian header length, a JSON header
 * (padded with spaces to 8-byte alignment) mapping each name to its dtype, shape and byte range,
 * then the little-endian data of every tensor, contiguous, in header order.
 */
export function encodeSafetensors(
  tensors: TensorMap,
  metadata?: Readonly<Record<string, string>>,
  options: EncodeSafetensorsOptions = {},
): Uint8Array {
  const entries = tensorEntries(tensors);
  const parts: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new CheckpointError(`saveSafetensors: metadata values must be strings, but ${k} is ${typeof v}`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const buffers: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (!(t instanceof Tensor)) throw new CheckpointError(`saveSafetensors: ${name} is not a Tensor`);
    if (name === "__metadata__") throw new CheckpointError("saveSafetensors: __metadata__ is reserved and cannot name a tensor");
    const values = t.toTypedArray();
    const dtype = writeDType(name, values, options.dtypes);
    const bytes = dtype === "I64" ? int64Bytes(name, values) : toLittleEndianBytes(asFloats(values, dtype));
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] })}`);
    buffers.push(bytes);
    offset += bytes.length;
  }
  let header = `{${parts.join(",")}}`;
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(header);
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    header += " ".repeat(padded - headerBytes.length);
    headerBytes = encoder.encode(header);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const b of buffers) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function writeDType(name: string, values: Float32Array | Float64Array, dtypes: Readonly<Record<string, SafetensorsWriteDType>> | undefined): SafetensorsWriteDType {
  const asked = dtypes !== undefined && Object.hasOwn(dtypes, name) ? dtypes[name] : undefined;
  if (asked !== undefined) {
    if (asked !== "F32" && asked !== "F64" && asked !== "I64") {
      throw new CheckpointError(`saveSafetensors: dtypes.${name} must be "F32", "F64" or "I64", but got ${JSON.stringify(asked)}`);
    }
    return asked;
  }
  if (INTEGER_KEYS.has(name.slice(name.lastIndexOf(".") + 1))) return "I64";
  return values instanceof Float64Array ? "F64" : "F32";
}

function asFloats(values: Float32Array | Float64Array, dtype: "F32" | "F64"): Float32Array | Float64Array {
  if (dtype === "F64") return values instanceof Float64Array ? values : Float64Array.from(values);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Little-endian int64 bytes of integer-valued floats; anything else is refused, naming the tensor. */
function int64Bytes(name: string, values: Float32Array | Float64Array): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v)) {
      throw new CheckpointError(`saveSafetensors: ${name} is written as I64, so its values must be integers of magnitude at most 2^53, but element ${i} is ${v}`);
    }
    view.setBigInt64(i * 8, BigInt(v), true);
  }
  return out;
}

interface Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Decodes safetensors bytes; `name` is used in error messages. */
export function decodeSafetensors(bytes: Uint8Array, name = "<buffer>"): SafetensorsContents {
  const fail = (what: string): never => {
    throw new CheckpointError(`loadSafetensors: ${name}: ${what}`);
  };
  if (bytes.length < 8) fail(`file too short: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER)) fail(`bad header length ${declared} (more than ${MAX_HEADER} bytes): not a safetensors file`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    fail(`bad header length ${headerLength}: the file has only ${bytes.length - 8} bytes after the length (truncated or not a safetensors file)`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail("the header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    return fail(`the header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("the header must be a JSON object");
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail("__metadata__ must be an object of strings");
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== "string") fail(`__metadata__.${mk} must be a string, but is ${JSON.stringify(mv)}`);
        metadata[mk] = mv as string;
      }
      continue;
    }
    entries.push(parseEntry(key, value, dataLength, fail));
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < expected) {
      fail(`tensor ${e.name} (bytes [${e.begin}, ${e.end}]) overlaps tensor ${previous!.name} (bytes [${previous!.begin}, ${previous!.end}])`);
    }
    if (e.begin > expected) fail(`${e.begin - expected} bytes before tensor ${e.name} belong to no tensor (data must be contiguous)`);
    expected = e.end;
    previous = e;
  }
  if (expected !== dataLength) fail(`${dataLength - expected} bytes after the last tensor belong to no tensor`);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    const values = e.dtype === "F32" || e.dtype === "F64" ? fromLittleEndianBytes(raw, e.dtype) : integersFromBytes(raw, e.dtype, e.name, fail);
    tensors[e.name] = tensor(values, { shape: e.shape });
  }
  return { tensors, metadata };
}

function parseEntry(name: string, value: unknown, dataLength: number, fail: (what: string) => never): Entry {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`entry ${name} must be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== "string") fail(`tensor ${name} has no dtype string`);
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) fail(`tensor ${name} has dtype ${dtype}, which is not supported (supported: ${Object.keys(DTYPE_BYTES).join(", ")})`);
  const isCount = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) {
    fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)} (need [begin, end] with 0 <= begin <= end)`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) fail(`tensor ${name} has data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes (truncated file?)`);
  const size = (shape as number[]).reduce((p, d) => p * d, 1) * DTYPE_BYTES[dtype as SafeDType];
  if (size !== end - begin) {
    fail(`tensor ${name} of dtype ${dtype} and shape [${(shape as number[]).join(", ")}] needs ${size} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype: dtype as SafeDType, shape: shape as number[], begin, end };
}

function toLittleEndianBytes(values: Float32Array | Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  const width = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < values.length; i++) {
    if (width === 8) view.setFloat64(i * 8, values[i]!, true);
    else view.setFloat32(i * 4, values[i]!, true);
  }
  return out;
}

/** Integer data as float64 (Pico has no integer dtype), exact up to 2^53; larger magnitudes are refused. */
function integersFromBytes(bytes: Uint8Array, dtype: Exclude<SafeDType, "F32" | "F64">, name: string, fail: (what: string) => never): Float64Array {
  const width = DTYPE_BYTES[dtype];
  const count = bytes.length / width;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * width;
    if (dtype === "I64") {
      const v = view.getBigInt64(at, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(-Number.MAX_SAFE_INTEGER)) {
        fail(`tensor ${name} (I64) holds ${v} at element ${i}, beyond 2^53, which a float64 cannot hold exactly`);
      }
      out[i] = Number(v);
    } else if (dtype === "I32") out[i] = view.getInt32(at, true);
    else if (dtype === "I16") out[i] = view.getInt16(at, true);
    else if (dtype === "I8") out[i] = view.getInt8(at);
    else out[i] = view.getUint8(at);
  }
  return out;
}

function fromLittleEndianBytes(bytes: Uint8Array, dtype: "F32" | "F64"): Float32Array | Float64Array {
  const width = DTYPE_BYTES[dtype];
  const count = bytes.length / width;
  if (LITTLE_ENDIAN) {
    // A fresh, exactly sized copy: the data section need not be aligned (and a Buffer's slice() would not copy).
    const copy = new Uint8Array(bytes).buffer;
    return dtype === "F64" ? new Float64Array(copy) : new Float32Array(copy);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = dtype === "F64" ? new Float64Array(count) : new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = width === 8 ? view.getFloat64(i * 8, true) : view.getFloat32(i * 4, true);
  return out;
}
