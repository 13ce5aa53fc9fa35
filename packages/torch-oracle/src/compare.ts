import { Generator, Tensor, type DType } from "@pico/core";
import ndarray from "ndarray";
import { oracle } from "./oracle.js";
import { recordCase, type Deviation } from "./stats.js";
import { TorchTensor, torchInput, type OracleResult, type OracleValue, type TorchDType } from "./wire.js";

export type Shape = readonly number[];

/** How one input is drawn. Every field can also be given for all inputs at once in CompareOptions. */
export interface InputSpec {
  /** Uniform in [low, high) (default [-2, 2)). */
  low?: number;
  high?: number;
  /** Draws closer than `gap` (default 0.05) to one of these points are redrawn (relu at 0, abs at 0...). */
  avoid?: readonly number[];
  gap?: number;
  /** Each value drawn from these instead (ties on purpose). */
  choices?: readonly number[];
  /** These exact values, row-major. */
  values?: readonly number[];
  /** Integers in [0, int): class indices and the like; no gradient, and torch gets int64 (see torchDtype). */
  int?: number;
  /** Default: true for floating inputs when the case checks gradients. */
  requiresGrad?: boolean;
  /** The dtype torch receives (default: the case's dtype; int64 for `int` inputs). */
  torchDtype?: TorchDType;
  /** Non-contiguous on both sides: axes reversed in memory, inside a larger buffer, at an offset. */
  strided?: boolean;
}

export interface CompareOptions extends Omit<InputSpec, "values" | "int" | "torchDtype" | "requiresGrad"> {
  /** Seed of the inputs and of the upstream gradients (default 7). */
  seed?: number;
  /** The dtypes to run the case in, each in both Pico and torch (default float64 and float32). */
  dtypes?: readonly DType[];
  /** Per-input overrides, by position. */
  inputs?: readonly (InputSpec | undefined)[];
  /** The inputs' names in the torch code (default a, b, c, ...). */
  names?: readonly string[];
  /** Compare the gradient of every input that requires grad (default true). */
  grad?: boolean;
  /** Tolerance on |pico - torch| / (|torch| + max |torch| of the array); defaults: float64 1e-10, float32 1e-5. */
  rtol?: number | { float64?: number; float32?: number };
  /** Extra named values for the torch code (numbers, lists, tensors). */
  extra?: { readonly [name: string]: OracleValue };
  /** Names the case in error messages and statistics (default: the torch code). */
  label?: string;
}

export class CompareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CompareError";
  }
}

const DEFAULT_RTOL: Record<DType, number> = { float64: 1e-10, float32: 1e-5 };
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

type PicoResult = Tensor | readonly Tensor[];

/**
 * Runs `pico(...inputs)` and the torch code on the same seeded inputs, in each dtype, and compares
 * every output and every input gradient (upstream gradients are seeded random numbers, the same on
 * both sides). `torch` is Python over the inputs named a, b, c, ... (see `names`): one expression,
 * or statements assigning `out`; a tuple or list answers a Pico array of outputs.
 *
 *   await compareWithTorch([[3, 4], [4]], (a, b) => a.maximum(b), "torch.maximum(a, b)");
 *
 * Resolves with nothing (so it can be a test body, `it.each` included); oracleStats() has the deviations.
 */
export async function compareWithTorch(
  shapes: readonly Shape[],
  pico: (...inputs: Tensor[]) => PicoResult,
  torch: string,
  options: CompareOptions = {},
): Promise<void> {
  const dtypes = options.dtypes ?? ["float64", "float32"];
  const names = options.names ?? shapes.map((_, i) => LETTERS[i]!);
  const label = options.label ?? torch;
  const specs = shapes.map((_, i) => specFor(options, i));
  const gen = new Generator(options.seed ?? 7);
  const raw = shapes.map((shape, i) => draw(gen, shape, specs[i]!, `${label}: input ${names[i]}`));
  const wantGrad = options.grad ?? true;

  const runs = dtypes.map((dtype) => {
    const values = raw.map((v) => (dtype === "float64" ? v : Float64Array.from(Float32Array.from(v))));
    const leaves = shapes.map((shape, i) => picoLeaf(values[i]!, shape, dtype, specs[i]!, wantGrad));
    const result = pico(...leaves);
    const outs = Array.isArray(result) ? (result as readonly Tensor[]) : [result as Tensor];
    const ugen = new Generator((options.seed ?? 7) + 1);
    const ups = outs.map((o) => (o.requiresGrad && wantGrad ? upstream(ugen, o.shape, o.dtype) : null));
    if (wantGrad) {
      const live = outs.map((o, i) => [o, ups[i]] as const).filter((p): p is readonly [Tensor, Tensor] => p[1] !== null);
      if (live.length === 1) live[0]![0].backward(live[0]![1]);
      else if (live.length > 1) live.map(([o, u]) => o.mul(u).sum()).reduce((s, t) => s.add(t)).backward();
    }
    const inputs: Record<string, OracleValue> = { ...options.extra };
    shapes.forEach((shape, i) => {
      const spec = specs[i]!;
      inputs[names[i]!] = torchInput(values[i]!, {
        shape,
        dtype: spec.torchDtype ?? (spec.int !== undefined ? "int64" : dtype),
        requiresGrad: leaves[i]!.requiresGrad,
        strided: spec.strided ?? false,
      });
    });
    const upList = ups.map((u) => (u === null ? null : torchInput(u.toTypedArray(), { shape: u.shape, dtype })));
    const request = oracle().run({
      code: torch,
      inputs,
      grad: wantGrad && ups.some((u) => u !== null),
      upstream: { out: Array.isArray(result) ? upList : (upList[0] ?? null) },
    });
    // A failed case must not leave the other dtype's reply as an unhandled rejection.
    request.catch(() => undefined);
    return { dtype, leaves, outs, isList: Array.isArray(result), request };
  });

  for (const run of runs) {
    const { dtype } = run;
    const r = await run.request.catch((e: unknown) => {
      throw new CompareError(`${label} [${dtype}]: torch failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    const rtol = typeof options.rtol === "number" ? options.rtol : (options.rtol?.[dtype] ?? DEFAULT_RTOL[dtype]);
    const where = `${label} [${dtype}]`;
    const worst: Deviation = { deviation: 0, where: "" };
    let arrays = 0;
    let elements = 0;
    const check = (what: string, actual: Tensor | null, expected: TorchTensor | null): void => {
      const dev = compareArrays(`${where}: ${what}`, actual, expected, rtol);
      arrays += 1;
      elements += expected?.size ?? actual?.size ?? 0;
      if (dev > worst.deviation) Object.assign(worst, { deviation: dev, where: `${label} ${dtype} ${what}` });
    };
    const torchOuts = torchOutputs(where, r.out, run.isList, run.outs.length);
    run.outs.forEach((o, i) => {
      const t = torchOuts[i]!;
      const name = run.isList ? `output ${i}` : "output";
      if ((t.dtype === "float32" || t.dtype === "float64") && o.dtype !== t.dtype) {
        throw new CompareError(`${where}: ${name} has dtype ${o.dtype} in Pico but ${t.dtype} in torch`);
      }
      check(name, o, t);
    });
    if (options.grad ?? true) {
      run.leaves.forEach((leaf, i) => {
        if (!leaf.requiresGrad) return;
        const name = names[i]!;
        check(`gradient of ${name}`, leaf.grad, r.grads[name] ?? null);
      });
    }
    recordCase(dtype, label, arrays, elements, worst);
  }
}

function specFor(options: CompareOptions, i: number): InputSpec {
  const { low, high, avoid, gap, choices, strided } = options;
  return { low, high, avoid, gap, choices, strided, ...stripUndefined(options.inputs?.[i] ?? {}) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function draw(gen: Generator, shape: Shape, spec: InputSpec, what: string): Float64Array {
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(n);
  if (spec.values !== undefined) {
    if (spec.values.length !== n) throw new CompareError(`${what}: values has ${spec.values.length} numbers, but shape [${shape.join(", ")}] needs ${n}`);
    out.set(spec.values);
    return out;
  }
  const low = spec.low ?? -2;
  const high = spec.high ?? 2;
  const avoid = spec.avoid ?? [];
  const gap = spec.gap ?? 0.05;
  for (let i = 0; i < n; i++) {
    if (spec.int !== undefined) out[i] = gen.randint(spec.int);
    else if (spec.choices !== undefined) out[i] = spec.choices[gen.randint(spec.choices.length)]!;
    else {
      let v: number;
      let tries = 0;
      do {
        v = low + (high - low) * gen.random();
        if (++tries > 10_000) throw new CompareError(`${what}: cannot draw from [${low}, ${high}) away from [${avoid.join(", ")}] by ${gap}`);
      } while (avoid.some((p) => Math.abs(v - p) < gap));
      out[i] = v;
    }
  }
  return out;
}

function picoLeaf(values: Float64Array, shape: Shape, dtype: DType, spec: InputSpec, wantGrad: boolean): Tensor {
  const requiresGrad = spec.requiresGrad ?? (wantGrad && spec.int === undefined && spec.torchDtype !== "int64" && spec.torchDtype !== "bool" && spec.torchDtype !== "int32");
  const data = dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values);
  if (!spec.strided || shape.length === 0) return new Tensor(ndarray(data, [...shape]), { requiresGrad });
  const r = shape.length;
  const big = shape.map((d) => d + 1).reverse();
  const buffer = dtype === "float64" ? new Float64Array(big.reduce((p, d) => p * d, 1)) : new Float32Array(big.reduce((p, d) => p * d, 1));
  const view = ndarray(buffer, big).lo(...shape.map(() => 1)).transpose(...shape.map((_, i) => r - 1 - i));
  const src = ndarray(data, [...shape]);
  forEachIndex(shape, (idx) => view.set(...idx, src.get(...idx)));
  return new Tensor(view, { requiresGrad });
}

function forEachIndex(shape: Shape, fn: (idx: number[]) => void): void {
  const n = shape.reduce((p, d) => p * d, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let t = 0; t < n; t++) {
    fn(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]! += 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

function upstream(gen: Generator, shape: readonly number[], dtype: DType): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = gen.normal();
  return new Tensor(ndarray(data, [...shape]));
}

function torchOutputs(where: string, out: OracleResult, isList: boolean, count: number): TorchTensor[] {
  const list = isList ? out : [out];
  if (!Array.isArray(list) || list.length !== count || !list.every((t) => t instanceof TorchTensor)) {
    throw new CompareError(`${where}: Pico returned ${isList ? `${count} tensors` : "a tensor"}, but torch returned ${describeResult(out)}`);
  }
  return list as TorchTensor[];
}

function describeResult(v: OracleResult): string {
  if (v instanceof TorchTensor) return `a tensor of shape [${v.shape.join(", ")}]`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return JSON.stringify(v);
}

/**
 * The largest |a - e| / (|e| + max|e|) over the elements; throws past `rtol`. NaNs must match
 * NaNs and infinities must match exactly; a missing gradient equals zeros.
 */
function compareArrays(where: string, actual: Tensor | null, expected: TorchTensor | null, rtol: number): number {
  if (actual === null && expected === null) return 0;
  if (actual !== null && expected !== null && !sameShape(actual.shape, expected.shape)) {
    throw new CompareError(`${where}: shape [${actual.shape.join(", ")}] in Pico but [${expected.shape.join(", ")}] in torch`);
  }
  const a = actual?.toTypedArray() ?? new Float64Array(expected!.size);
  const e = expected?.data ?? new Float64Array(a.length);
  let scale = 0;
  for (let i = 0; i < e.length; i++) if (Number.isFinite(e[i]!)) scale = Math.max(scale, Math.abs(e[i]!));
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)) || x === y) continue;
    const dev = Number.isFinite(x) && Number.isFinite(y) ? Math.abs(x - y) / (Math.abs(y) + scale) : Infinity;
    if (!(dev <= rtol)) {
      const shape = actual?.shape ?? expected!.shape;
      throw new CompareError(
        `${where} differs at [${unravel(i, shape).join(", ")}] (shape [${shape.join(", ")}]): Pico ${x}, torch ${y}; ` +
          `relative deviation ${dev.toExponential(2)} > ${rtol}${actual === null ? " (Pico has no gradient)" : expected === null ? " (torch has no gradient)" : ""}`,
      );
    }
    worst = Math.max(worst, dev);
  }
  return worst;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}
