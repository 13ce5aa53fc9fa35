import { gunzipSync } from "fflate";
import { IdxFormatError } from "./errors.js";

/** The element types an IDX file can hold, named as in the format's description. */
export type IdxDType = "ubyte" | "byte" | "short" | "int" | "float" | "double";

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDType;
  shape: number[];
  /** Row-major elements, converted from the file's big-endian order. */
  data: IdxData;
}

interface DTypeInfo {
  name: IdxDType;
  code: number;
  bytes: number;
}

const DTYPES: readonly DTypeInfo[] = [
  { name: "ubyte", code: 0x08, bytes: 1 },
  { name: "byte", code: 0x09, bytes: 1 },
  { name: "short", code: 0x0b, bytes: 2 },
  { name: "int", code: 0x0c, bytes: 4 },
  { name: "float", code: 0x0d, bytes: 4 },
  { name: "double", code: 0x0e, bytes: 8 },
];

const hex = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`;

/**
 * Decodes IDX bytes already in memory, plain or gzip-compressed (recognised by the gzip magic 1f 8b),
 * in any JavaScript runtime; `name` is used in error messages.
 */
export function readIdxBuffer(buffer: Uint8Array, name = "<buffer>"): IdxArray {
  let bytes = buffer;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new IdxFormatError(`readIdx: ${name}: corrupt or truncated gzip data (${(error as Error).message})`);
    }
  }
  const fail = (what: string): never => {
    throw new IdxFormatError(`readIdx: ${name}: ${what}`);
  };
  if (bytes.length < 4) fail(`file too short for an IDX header: ${bytes.length} bytes, need at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      `wrong magic number ${Array.from(bytes.subarray(0, 4), hex).join(" ")}: an IDX file starts with two zero bytes, ` +
        `a type code and the number of dimensions`,
    );
  }
  const code = bytes[2]!;
  const info = DTYPES.find((d) => d.code === code);
  if (info === undefined) {
    fail(`unknown element type code ${hex(code)} (expected one of ${DTYPES.map((d) => `${hex(d.code)} ${d.name}`).join(", ")})`);
  }
  const { name: dtype, bytes: width } = info!;
  const ndims = bytes[3]!;
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    fail(`truncated header: ${ndims} dimensions need ${headerLength} header bytes, but the file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let d = 0; d < ndims; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((p, d) => p * d, 1);
  const expected = headerLength + count * width;
  const dims = `[${shape.join(", ")}]`;
  if (bytes.length < expected) {
    fail(`truncated: dims ${dims} of ${dtype} need ${count * width} data bytes, but only ${bytes.length - headerLength} follow the header`);
  }
  if (bytes.length > expected) {
    fail(`${bytes.length - expected} unexpected bytes after the data: dims ${dims} of ${dtype} need ${count * width} data bytes`);
  }
  return { dtype, shape, data: decode(info!, view, headerLength, count) };
}

function decode(info: DTypeInfo, view: DataView, offset: number, count: number): IdxData {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, count * info.bytes);
  switch (info.name) {
    case "ubyte":
      return bytes.slice();
    case "byte":
      return new Int8Array(bytes.slice().buffer);
    case "short": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case "int": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case "float": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case "double": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Encodes an array as IDX bytes (big-endian), the inverse of readIdxBuffer. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const info = DTYPES.find((d) => d.name === array.dtype);
  if (info === undefined) throw new IdxFormatError(`encodeIdx: unknown dtype ${String(array.dtype)}`);
  const count = array.shape.reduce((p, d) => p * d, 1);
  if (count !== array.data.length) {
    throw new IdxFormatError(`encodeIdx: shape [${array.shape.join(", ")}] needs ${count} elements, but data has ${array.data.length}`);
  }
  if (array.shape.length > 255) throw new IdxFormatError(`encodeIdx: at most 255 dimensions, but got ${array.shape.length}`);
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + count * info.bytes);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const data = array.data;
  for (let i = 0; i < count; i++) {
    const at = header + i * info.bytes;
    const v = data[i]!;
    switch (info.name) {
      case "ubyte":
        view.setUint8(at, v);
        break;
      case "byte":
        view.setInt8(at, v);
        break;
      case "short":
        view.setInt16(at, v, false);
        break;
      case "int":
        view.setInt32(at, v, false);
        break;
      case "float":
        view.setFloat32(at, v, false);
        break;
      case "double":
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
