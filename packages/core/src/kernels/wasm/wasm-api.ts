// The library is typed without DOM or Node globals, so the slice of the WebAssembly API it uses is declared here.

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/** What assembly/gemm.ts exports. */
export interface GemmExports {
  heapBase(): number;
  workBytes(m: number, n: number, k: number): number;
  gemmRows(
    ic0: number, ic1: number, n: number, k: number,
    a: number, lda: number, transA: number,
    b: number, ldb: number, transB: number,
    c: number, ldc: number, accumulate: number, work: number,
  ): void;
}

/** What assembly/conv.ts exports. */
export interface ConvExports {
  im2col(geo: number, src: number, channels: number, cols: number, ld: number): void;
  col2im(geo: number, cols: number, ld: number, channels: number, dst: number): void;
  conv2dForward(
    geo: number, count: number, x: number, w: number, prepared: number, bias: number, out: number,
    chunk: number, relu: number, cols: number, y: number, work: number, pool: number, conv: number, argmax: number,
  ): void;
  conv2dBackward(
    geo: number, count: number, x: number, w: number, gy: number, gx: number, gw: number, gb: number,
    chunk: number, cols: number, dcols: number, gbuf: number, work: number, argmax: number, path: number, accumulate: number,
  ): void;
  /** Floats of `cols` the Winograd path of conv2dForward (pooling without arg-max) needs. */
  winogradScratchFloats(inChannels: number, outChannels: number): number;
  preparedFloats(geo: number, pool: number, withArgmax: number): number;
  /** conv2dForward's way: 0 im2col + GEMM, 1 direct, 2 Winograd F(2×2, 5×5) with pooling, 3 Winograd F(4×4, 3×3). */
  forwardPathOf(geo: number, pool: number, withArgmax: number): number;
  winograd3x3Tiles(geo: number): number;
  winograd3x3ScratchBytes(geo: number, images: number): number;
  /** conv2dBackward's way (passed to every call): 0 im2col + GEMM, 3 Winograd F(4×4, 3×3), 4 depthwise. */
  backwardPathOf(geo: number, wantGx: number, withArgmax: number): number;
  winograd3x3BackwardScratchBytes(geo: number, images: number, wantGx: number, wantGw: number): number;
  preparedBackwardFloats(geo: number, wantGx: number): number;
  prepareBackward(geo: number, w: number, dst: number): void;
  prepareWinograd3x3(geo: number, w: number, dst: number, backward: number, o0: number, o1: number, scratch: number): void;
  winograd3x3WeightsScratchBytes(): number;
  winograd3x3WeightsBackward(
    dU: number, regions: number, regionBytes: number, outChannels: number, inChannels: number, o0: number, o1: number, dst: number, scratch: number,
  ): void;
  winograd3x3WeightsBackwardScratchBytes(): number;
  im2colWeightGradFinish(geo: number, sums: number, regions: number, regionBytes: number, o0: number, o1: number, dst: number): void;
  sumRegions(src: number, regions: number, regionBytes: number, count: number, dst: number): void;
  prepareForward(geo: number, w: number, pool: number, withArgmax: number, dst: number): void;
  /** 1 when any of the `count` floats at `p` is NaN or ±infinity, else 0. */
  anyNonFinite(p: number, count: number): number;
}

/**
 * What the kernel module (assembly/index.ts) exports: one interface per kernel file. A kernel file added
 * to the module adds its interface here, and its functions are then called as `instance.exports.name(...)`.
 */
export interface KernelExports extends GemmExports, ConvExports, ElementwiseExports, PoolExports, OptimizerExports {}

/** What assembly/elementwise.ts exports: one entry that runs any of its kernels (see elementwise-wasm.ts). */
export interface ElementwiseExports {
  elementwiseJob(
    kind: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number,
    a8: number, a9: number, a10: number, a11: number, a12: number, a13: number, a14?: number,
  ): void;
}

/** What assembly/optimizer.ts exports (see src/kernels/wasm/optimizer-wasm.ts). */
export interface OptimizerExports {
  sgdStep(hyper: number, p: number, g: number, buf: number, i0: number, i1: number): void;
  adamStep(hyper: number, p: number, g: number, m: number, v: number, vmax: number, i0: number, i1: number): void;
}

/** What assembly/pool.ts exports. */
export interface PoolExports {
  maxPool2x2Backward(gy: number, argmax: number, gx: number, H: number, W: number, oH: number, oW: number, count: number, indexBase: number): void;
}

export type WasmModule = object;

export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  validate?: (bytes: Uint8Array) => boolean;
}

export const WASM_PAGE = 65536;

/** The host's WebAssembly namespace, or undefined where there is none. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/** Decodes standard base64 (the library's type environment has no `atob`). */
export function decodeBase64(text: string): Uint8Array {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const lookup = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) lookup[alphabet.charCodeAt(i)] = i;
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let count = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    bits = (bits << 6) | lookup[clean.charCodeAt(i)]!;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[o++] = (bits >> count) & 0xff;
    }
  }
  return out;
}
