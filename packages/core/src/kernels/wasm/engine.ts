import { reportWasm } from "../registry.js";
import { wasmBinaries } from "./wasm-binaries.js";
import { memoryTouched } from "./handoff.js";
import { residentBytes } from "./resident-regions.js";
import { decodeBase64, WASM_PAGE, wasmApi } from "./wasm-api.js";
import type { KernelExports, WasmMemory } from "./wasm-api.js";

// The one WebAssembly kernel module (assembly/index.ts) and, on the calling thread, its one instance and
// memory, which the GEMM and the convolution (and any kernel added to the module) share: their calls are
// synchronous and never overlap, so each lays out its operands from heapBase afresh. Worker threads run
// their own instances of the same module over one shared memory (shared-wasm-threads.ts).

/** An instance of the module, its memory and a cached Float32Array over that memory. */
export interface WasmInstance<E = KernelExports> {
  exports: E;
  memory: WasmMemory;
  heap: Float32Array | null;
  /** The calling thread's instance only: where its resident regions start (resident-regions.ts); its heapBase() is after them. */
  residentStart?: number;
  /** Views of the memory that heapView made, by byte address and length; dropped with `heap`. */
  views?: Map<number, Float32Array>;
}

/** (func (param v128 v128 v128) (result v128) f32x4.relaxed_madd): validates only where relaxed SIMD is on. */
const RELAXED_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
];

/** (func (param v128) (result v128) local.get 0): validates wherever WebAssembly SIMD does. */
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 6, 1, 4, 0, 32, 0, 11];

let local: WasmInstance | null | undefined;
let relaxed: boolean | undefined;
/** Why the module cannot run here, once localInstance found it cannot. */
let failure: string | null = null;

/**
 * Whether this engine runs WebAssembly relaxed SIMD (so the kernels multiply-add in one instruction).
 * Decided once, when the module is first compiled: a flag turned on later changes nothing.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxed === undefined) {
    const api = wasmApi();
    try {
      relaxed = api?.validate?.(new Uint8Array(RELAXED_PROBE)) === true;
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/** The module's bytes: the relaxed-SIMD build where it validates, else the plain SIMD one; `shared` imports a shared memory. */
export function wasmBinary(shared: boolean): Uint8Array {
  const r = relaxedSimdAvailable();
  return decodeBase64(shared ? (r ? wasmBinaries.relaxedShared : wasmBinaries.simdShared) : r ? wasmBinaries.relaxed : wasmBinaries.simd);
}

/** The calling thread's instance, or null where WebAssembly SIMD is missing (the kernels then run in TypeScript). */
export function localInstance(): WasmInstance | null {
  if (local === undefined) {
    const api = wasmApi();
    try {
      if (api === undefined) throw new Error("no WebAssembly");
      const raw = new api.Instance(new api.Module(wasmBinary(false)), {}).exports as KernelExports & { memory: WasmMemory };
      const residentStart = alignUp(raw.heapBase());
      // Every kernel lays out its scratch from heapBase: after the resident regions. Asking for it voids a handed-off output (handoff.ts).
      const exports: KernelExports = {
        ...raw,
        heapBase: () => {
          memoryTouched();
          return residentStart + residentBytes();
        },
      };
      local = { exports, memory: raw.memory, heap: null, residentStart };
    } catch (error) {
      failure = failureOf(error);
      local = null;
    }
  }
  return local;
}

function failureOf(error: unknown): string {
  const api = wasmApi();
  if (api === undefined) return "this runtime has no WebAssembly";
  if (api.validate?.(new Uint8Array(SIMD_PROBE)) === false) return "this engine has no WebAssembly SIMD";
  // E.g. a Content-Security-Policy without 'wasm-unsafe-eval': "Wasm code generation disallowed by embedder".
  return `the kernel module did not compile: ${error instanceof Error ? error.message : String(error)}`;
}

/** True where the WebAssembly kernels can run. */
export function wasmAvailable(): boolean {
  return localInstance() !== null;
}

reportWasm(() => ({ simd: wasmAvailable(), relaxedSimd: wasmAvailable() && relaxedSimdAvailable(), failure }));

/** A Float32Array over the whole memory, grown to at least `bytes`, or null when it cannot grow. */
export function heapOf(t: WasmInstance<unknown>, bytes: number): Float32Array | null {
  const memory = t.memory;
  // Read once: each read of memory.buffer calls into the runtime (~0.2 µs), and a training step calls this ~65 times.
  let buffer = memory.buffer;
  if (buffer.byteLength < bytes) {
    try {
      memory.grow(Math.ceil((bytes - buffer.byteLength) / WASM_PAGE));
    } catch {
      return null;
    }
    buffer = memory.buffer;
  }
  // A shared memory's buffer object changes when another thread grows it.
  if (t.heap === null || t.heap.buffer !== buffer || t.heap.length * 4 !== buffer.byteLength) {
    t.heap = new Float32Array(buffer);
    t.views?.clear();
  }
  return t.heap;
}

/** Views heapView keeps per instance at most: the distinct (region, length) pairs a training copies out of are few. */
const MAX_VIEWS = 256;

/**
 * `floats` floats of t's memory from byte `at`, as `heap` (heapOf's latest) sees it: a view made once per
 * heap and (address, length), so that copying a region out allocates no subarray.
 */
export function heapView(t: WasmInstance<unknown>, heap: Float32Array, at: number, floats: number): Float32Array {
  const views = (t.views ??= new Map());
  const key = at * 65536 + floats;
  let view = views.get(key);
  // Keys of a region over 65,535 floats may meet, and a view may be of an older heap: it must be the one asked for.
  if (view === undefined || view.buffer !== heap.buffer || view.byteOffset !== at || view.length !== floats) {
    if (views.size >= MAX_VIEWS) views.clear();
    view = new Float32Array(heap.buffer, at, floats);
    views.set(key, view);
  }
  return view;
}

const ALIGN = 64;

export const alignUp = (x: number): number => Math.ceil(x / ALIGN) * ALIGN;

/** Hands out 64-byte aligned regions of the memory from `start` (usually heapBase) on. */
export class Layout {
  end: number;
  constructor(start: number) {
    this.end = alignUp(start);
  }
  /** `floats` floats followed by `tail` readable bytes; returns the byte address. */
  take(floats: number, tail = 0): number {
    const at = this.end;
    this.end = alignUp(at + floats * 4 + tail);
    return at;
  }
}
