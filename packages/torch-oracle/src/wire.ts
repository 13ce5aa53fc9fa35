import { Tensor, tensor } from "@pico/core";

/** dtypes a tensor can have on the torch side. */
export type TorchDType = "float64" | "float32" | "int64" | "int32" | "bool";

/** A tensor as PyTorch returned it: values widened to float64 (exact for float32, int64 below 2^53 and bool). */
export class TorchTensor {
  constructor(
    readonly shape: number[],
    /** torch's dtype name: "float32", "float64", "int64", "bool", ... */
    readonly dtype: string,
    readonly data: Float64Array,
  ) {}

  get size(): number {
    return this.data.length;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1) throw new Error(`TorchTensor.item: only a one-element tensor has an item, but got shape [${this.shape.join(", ")}]`);
    return this.data[0]!;
  }

  /** A Pico tensor with these values (float32 unless asked). */
  toPico(options: { dtype?: "float32" | "float64"; requiresGrad?: boolean } = {}): Tensor {
    const dtype = options.dtype ?? "float32";
    const data = dtype === "float64" ? Float64Array.from(this.data) : Float32Array.from(this.data);
    return tensor(data, { shape: this.shape, dtype, requiresGrad: options.requiresGrad ?? false });
  }
}

/** How a value is sent to torch: a Pico tensor, or plain data, with the dtype and layout torch should see. */
export class TorchInput {
  constructor(
    readonly data: ArrayLike<number>,
    readonly shape: readonly number[],
    readonly dtype: TorchDType,
    readonly requiresGrad: boolean,
    readonly strided: boolean,
  ) {}
}

export interface TorchInputOptions {
  /** The values' shape (required for plain data; a Pico tensor brings its own). */
  shape?: readonly number[];
  /** torch's dtype (default: the Pico tensor's dtype, or float64 for plain data). */
  dtype?: TorchDType;
  /** Default: the Pico tensor's requiresGrad, false for plain data (integer dtypes never). */
  requiresGrad?: boolean;
  /** Lay it out non-contiguously in torch (reversed axes inside a larger buffer, at an offset). */
  strided?: boolean;
}

/** Marks a Pico tensor or plain numbers for torch with an explicit dtype, grad flag or layout. */
export function torchInput(value: Tensor | ArrayLike<number>, options: TorchInputOptions = {}): TorchInput {
  if (value instanceof Tensor) {
    const dtype = options.dtype ?? value.dtype;
    return new TorchInput(value.toTypedArray(), value.shape, dtype, floating(dtype) && (options.requiresGrad ?? value.requiresGrad), options.strided ?? false);
  }
  const shape = options.shape ?? [value.length];
  const size = shape.reduce((p, d) => p * d, 1);
  if (size !== value.length) throw new Error(`torchInput: shape [${shape.join(", ")}] needs ${size} values, but got ${value.length}`);
  const dtype = options.dtype ?? "float64";
  return new TorchInput(value, shape, dtype, floating(dtype) && (options.requiresGrad ?? false), options.strided ?? false);
}

function floating(dtype: TorchDType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** What can be sent: tensors, numbers, strings, booleans, null, and arrays or objects of them (a state dict, hyper-parameters). */
export type OracleValue = Tensor | TorchInput | number | boolean | string | null | readonly OracleValue[] | { readonly [key: string]: OracleValue };
/** What comes back: torch tensors, numbers, ..., and lists (from tuples too) and dicts of them. */
export type OracleResult = TorchTensor | number | boolean | string | null | OracleResult[] | { [key: string]: OracleResult };

interface WireTensor {
  __tensor__: { dtype: string; shape: number[]; data: string; requiresGrad?: boolean; strided?: boolean };
}

export function encodeValue(value: OracleValue): unknown {
  if (value instanceof Tensor) return encodeValue(torchInput(value));
  if (value instanceof TorchInput) {
    const bytes = Float64Array.from(value.data);
    const wire: WireTensor = {
      __tensor__: {
        dtype: value.dtype,
        shape: [...value.shape],
        data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
        requiresGrad: value.requiresGrad,
        strided: value.strided,
      },
    };
    return wire;
  }
  if (typeof value === "number") return Number.isFinite(value) ? value : { __float__: String(value).replace("Infinity", "inf") };
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((v: OracleValue) => encodeValue(v));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as { readonly [key: string]: OracleValue })) out[k] = encodeValue(v);
  return out;
}

export function decodeValue(value: unknown): OracleResult {
  if (value === null || typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  const obj = value as Record<string, unknown>;
  if ("__tensor__" in obj) {
    const t = (obj as unknown as WireTensor).__tensor__;
    const buf = Buffer.from(t.data, "base64");
    // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 8.
    const data = new Float64Array(buf.byteLength / 8);
    new Uint8Array(data.buffer).set(buf);
    return new TorchTensor(t.shape, t.dtype, data);
  }
  if ("__float__" in obj) return Number(String(obj.__float__).replace("inf", "Infinity"));
  const out: Record<string, OracleResult> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = decodeValue(v);
  return out;
}
