import { Tensor, formatShape } from "@pico/core";
import { CheckpointError } from "./errors.js";
import { type SafetensorsContents, type TensorMap, decodeSafetensors, encodeSafetensors, tensorEntries } from "./safetensors-bytes.js";

/** What a training run needs to continue where it stopped. */
export interface CheckpointState {
  /** The model's stateDict(). */
  model: TensorMap;
  /** An optimizer's stateDict(): JSON-like data whose leaves may be Tensors. */
  optimizer?: unknown;
  /** An LR scheduler's stateDict(), likewise. */
  scheduler?: unknown;
  /** The last completed epoch (or whatever the caller counts). */
  epoch?: number;
  /** Random generator state(s), e.g. Generator.getState(). */
  rng?: unknown;
  /** Anything else JSON-like (Tensors allowed at the leaves). */
  extra?: unknown;
}

export interface Checkpoint {
  model: Record<string, Tensor>;
  optimizer?: unknown;
  scheduler?: unknown;
  epoch?: number;
  rng?: unknown;
  extra?: unknown;
}

const FORMAT = "pico.ts-checkpoint";
const VERSION = "1";
const SECTIONS = ["optimizer", "scheduler", "rng", "extra"] as const;
const TENSOR_KEY = "$tensor";
const NUMBER_KEY = "$number";

/**
 * Encodes a checkpoint as safetensors bytes, in any runtime. Model tensors are stored as
 * `model.<name>`; Tensor leaves of the optimizer/scheduler/rng/extra state as `<section>.<path>`;
 * the rest of those states as JSON in the header's `__metadata__`, with `{"$tensor": key}` where a
 * Tensor was. Any safetensors reader can therefore load the weights. `operation` names the caller in errors.
 */
export function encodeCheckpoint(state: CheckpointState, operation = "encodeCheckpoint"): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of tensorEntries(state.model)) {
    if (!(t instanceof Tensor)) throw new CheckpointError(`${operation}: model entry ${name} is not a Tensor`);
    tensors.set(`model.${name}`, t.detach());
  }
  const metadata: Record<string, string> = { format: FORMAT, format_version: VERSION };
  if (state.epoch !== undefined) {
    if (!Number.isInteger(state.epoch)) throw new CheckpointError(`${operation}: epoch must be an integer, but got ${state.epoch}`);
    metadata.epoch = String(state.epoch);
  }
  for (const section of SECTIONS) {
    const value = state[section];
    if (value === undefined) continue;
    metadata[section] = JSON.stringify(encodeValue(value, section, tensors, operation));
  }
  return encodeSafetensors(tensors, metadata);
}

/**
 * Decodes checkpoint bytes written by encodeCheckpoint or saveCheckpoint, in any runtime, rebuilding
 * Tensors where they were; `name` (a file name) is used in errors. A plain safetensors file without
 * Pico.ts metadata decodes as model weights only.
 */
export function decodeCheckpoint(bytes: Uint8Array, name = "<buffer>"): Checkpoint {
  return checkpointFromContents(decodeSafetensors(bytes, name), name, "decodeCheckpoint");
}

/** The checkpoint held by decoded safetensors contents; `operation` and `name` prefix errors. */
export function checkpointFromContents({ tensors, metadata }: SafetensorsContents, name: string, operation: string): Checkpoint {
  if (metadata.format !== FORMAT) return { model: tensors };
  if (metadata.format_version !== VERSION) {
    throw new CheckpointError(`${operation}: ${name}: checkpoint format version ${metadata.format_version} is not supported (expected ${VERSION})`);
  }
  const model: Record<string, Tensor> = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith("model.")) model[key.slice("model.".length)] = t;
  }
  const out: Checkpoint = { model };
  if (metadata.epoch !== undefined) {
    const epoch = Number(metadata.epoch);
    if (!Number.isInteger(epoch)) throw new CheckpointError(`${operation}: ${name}: epoch ${JSON.stringify(metadata.epoch)} is not an integer`);
    out.epoch = epoch;
  }
  for (const section of SECTIONS) {
    const text = metadata[section];
    if (text === undefined) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new CheckpointError(`${operation}: ${name}: the ${section} state is not valid JSON (${(error as Error).message})`);
    }
    out[section] = decodeValue(parsed, tensors, `${name}: ${section}`, operation);
  }
  return out;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function encodeValue(value: unknown, path: string, tensors: Map<string, Tensor>, operation: string): Json {
  if (value instanceof Tensor) {
    let key = path;
    for (let n = 2; tensors.has(key); n++) key = `${path}#${n}`;
    tensors.set(key, value.detach());
    return { [TENSOR_KEY]: key };
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : { [NUMBER_KEY]: String(value) };
  if (Array.isArray(value)) return value.map((v, i) => (v === undefined ? null : encodeValue(v, `${path}.${i}`, tensors, operation)));
  if (typeof value === "object" && isPlainObject(value)) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === TENSOR_KEY || k === NUMBER_KEY) {
        throw new CheckpointError(`${operation}: ${path} has a key ${JSON.stringify(k)}, which is reserved for the checkpoint's own placeholders`);
      }
      if (v !== undefined) out[k] = encodeValue(v, `${path}.${k}`, tensors, operation);
    }
    return out;
  }
  const kind = typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
  throw new CheckpointError(`${operation}: ${path} is a ${kind}; a checkpoint stores only JSON data (objects, arrays, numbers, strings, booleans, null) and Tensors`);
}

function decodeValue(value: unknown, tensors: Readonly<Record<string, Tensor>>, where: string, operation: string): unknown {
  if (Array.isArray(value)) return value.map((v) => decodeValue(v, tensors, where, operation));
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === TENSOR_KEY) {
    const key = record[TENSOR_KEY];
    const t = typeof key === "string" ? tensors[key] : undefined;
    if (t === undefined) throw new CheckpointError(`${operation}: ${where} refers to tensor ${JSON.stringify(key)}, which the file does not contain`);
    return t;
  }
  if (keys.length === 1 && keys[0] === NUMBER_KEY) return Number(record[NUMBER_KEY]);
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = decodeValue(record[k], tensors, where, operation);
  return out;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Checks that a checkpoint's tensors (`found`) fit a model's (`expected`): same names, same shapes.
 * Throws one CheckpointError listing every difference (also in `error.differences`), e.g.
 * `conv1.weight: checkpoint [8, 1, 5, 5], model [6, 1, 5, 5]`. `source` (a file name) prefixes the message.
 */
export function checkStateDictCompatible(expected: TensorMap, found: TensorMap, source?: string): void {
  const model = new Map(tensorEntries(expected));
  const checkpoint = new Map(tensorEntries(found));
  const differences: string[] = [];
  for (const [name, t] of model) {
    const c = checkpoint.get(name);
    if (c === undefined) differences.push(`missing key ${name}: model ${formatShape(t.shape)}, not in checkpoint`);
    else if (c.shape.length !== t.shape.length || c.shape.some((d, i) => d !== t.shape[i])) {
      differences.push(`${name}: checkpoint ${formatShape(c.shape)}, model ${formatShape(t.shape)}`);
    }
  }
  for (const [name, c] of checkpoint) {
    if (!model.has(name)) differences.push(`unexpected key ${name}: checkpoint ${formatShape(c.shape)}, not in model`);
  }
  if (differences.length === 0) return;
  const head = `${source !== undefined ? `${source}: ` : ""}checkpoint does not match the model (${differences.length} difference${differences.length === 1 ? "" : "s"}):`;
  throw new CheckpointError([head, ...differences.map((d) => `  ${d}`)].join("\n"), differences);
}
