import { alignUp, heapOf, Layout, localInstance } from "../wasm/engine.js";
import { offerOutput, takeOutput } from "../wasm/handoff.js";
import { addressOf } from "../wasm/resident-storage.js";
import type { WasmInstance } from "../wasm/engine.js";
import type { ConvExports, KernelExports } from "../wasm/wasm-api.js";
import { MAX_JOBS } from "../wasm/thread-pool.js";
import { CONV2D_GEOMETRY_FIELDS, type Conv2dGeometry } from "./geometry.js";
import { keptPrepared, type PreparedWeights } from "./prepared-weights.js";
import { equalParts, keptEqualParts, keptStagedOrder, keptStagedParts, keptTaperedParts, type ImageRanges } from "./tapered-parts.js";
import { weightSumCalls } from "./weight-sum-calls.js";

// The "wasm" convolution: im2col and the GEMM run inside the kernel module (assembly/conv.ts), on the
// calling thread's instance or, while `@pico/core/threads` runs, split by images across the workers.

/** @deprecated The geometry every convolution kernel takes: use Conv2dGeometry. */
export type Conv2dWasmGeometry = Conv2dGeometry;

/** A float32 tensor stored packed (row-major) in `data` from `offset` on. */
export interface Float32Slice {
  data: Float32Array;
  offset: number;
}

export interface Conv2dWasmOptions {
  /** Images side by side in one GEMM; default: as many as fill about CHUNK_COLUMNS output columns. */
  chunk?: number;
  /** On the threads, calls each slice of images is cut into (at most one per chunk); default by cost. */
  calls?: number;
}

export interface Conv2dWasmForwardOptions extends Conv2dWasmOptions {
  /** Apply max(·, 0) to the output. */
  relu?: boolean;
  /**
   * Fuse ReLU and a 2×2 max-pool with stride 2 (floor): `out` receives maxPool2x2(relu(conv))
   * [N, outC, oH/2, oW/2]; the convolution output itself is never written out.
   */
  reluMaxPool2x2?: boolean;
  /** Weights prepared by an earlier forward of this convolution, reused while they are current, and kept for the next (see PreparedWeights). */
  prepared?: PreparedWeights;
  /**
   * With reluMaxPool2x2, receives per pooled output (packed like it, from index 0) the index into its
   * image's convolution output [outC, oH, oW] of the window's first maximum, row by row, when that
   * maximum is > 0, else −1: what conv2dBackwardWasm's `argmax` option reads.
   */
  argmax?: Int32Array | null;
  /**
   * An array of x's length: where it lives in the module (resident-storage.ts) and x does not, x is copied
   * into it, range by range as the call's own copy would be, and read there; a backward then reads x from
   * it in place instead of copying x in again (see conv2dWasmResident). Ignored otherwise.
   */
  inputCopy?: Float32Array | null;
}

export interface Conv2dWasmBackwardOptions extends Conv2dWasmOptions {
  /** `gradOut` is the gradient of a reluMaxPool2x2 forward's pooled output, and these its arg-max indices. */
  argmax?: Int32Array | null;
  /**
   * The input gradient goes to the backward of the one Function that made the convolution's input, and to
   * nothing else (the caller knows: nn's fusion patterns): it is left in the module for that backward to
   * read (handoff.ts; a BatchNorm's backward takes it, and a reluMaxPool2x2 convolution's backward with its
   * `argmax`). Default false: never offered.
   */
  handOffGradInput?: boolean;
}

/** One call of conv2dForward (kind 0), conv2dBackward (kind 1), winograd3x3WeightsBackward (kind 4) or prepareWinograd3x3 (kind 5) with its arguments. */
export type ConvCall = number[];

/**
 * A module instance and who runs its calls: the calling thread alone, or (conv-wasm-threads.ts)
 * worker threads sharing its memory, `threads` calls at a time, each call with regions of its own.
 */
export interface ConvEngine extends WasmInstance {
  threads: number;
  run(calls: ConvCall[]): void;
  /**
   * Opens `calls` to the worker threads and returns at once: all ready, unless `copied` (the calling thread
   * then copies their inputs in and marks them ready, in order). With a `scratchStride`, thread i (the
   * calling one 0) works in the calls' scratch regions moved by i times it.
   */
  launch?: (calls: ConvCall[], scratchStride: number, copied: boolean) => ConvLaunch;
  /**
   * Runs `calls` on the worker threads and the calling thread, which brings each call's input in
   * (`copyIn`, in call order) a few calls ahead of the ones it claims, so that inputs are read while
   * still in cache, and takes each result out (`copyOut`, in call order) as soon as it is done. Scratch
   * as with `launch`.
   */
  stage?: (calls: ConvCall[], scratchStride: number, copyIn: (call: number) => void, copyOut: (call: number) => void) => void;
}

/** Calls open on the worker threads (ConvEngine.launch). */
export interface ConvLaunch {
  /** Calls [0, count) have their input in place: threads may start them. */
  ready(count: number): void;
  /**
   * Marks every call ready (all must run before the table closes), has the calling thread take the calls no
   * thread has started, and hands each call to `done`, in order, as soon as it finished (between the calling
   * thread's own calls too); throws if one trapped.
   */
  finish(done: (call: number) => void): void;
}

/** Runs calls one after the other on the calling thread. */
export function runConvCalls(exports: ConvExports | KernelExports, calls: ConvCall[]): void {
  // Indexed: a for-of made an iterator per call.
  for (let i = 0; i < calls.length; i++) runConvCall(exports, calls[i]!);
}

/** Runs one call on the calling thread. */
export function runConvCall(exports: ConvExports | KernelExports, c: ConvCall): void {
  if (c[0] === 0) exports.conv2dForward(c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!, c[12]!, c[13]!, c[14]!, c[15]!);
  else if (c[0] === 1) exports.conv2dBackward(c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!, c[12]!, c[13]!, c[14]!, c[15]!, c[16]!);
  else if (c[0] === 4) exports.winograd3x3WeightsBackward(c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!);
  else exports.prepareWinograd3x3(c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!);
}

/**
 * Tables of calls reused from call to call, one per kind of table (forward, backward): the engine copies a
 * table into the workers' job table or runs it before conv2dForwardWasm / conv2dBackwardWasm return, so
 * nothing reads a row after its call, and no new arrays are made per call (the reference network's
 * 2-thread training step made ~2 KB of them).
 */
class CallTables {
  private readonly rows: ConvCall[] = [];
  /** tables[n] holds rows [0, n): the same row arrays in every table. */
  private readonly tables: ConvCall[][] = [];

  constructor(private readonly width: number) {}

  /** `count` rows of `width` numbers each, to be overwritten. */
  take(count: number): ConvCall[] {
    let table = this.tables[count];
    if (table === undefined) {
      while (this.rows.length < count) this.rows.push(new Array<number>(this.width).fill(0));
      table = this.rows.slice(0, count);
      this.tables[count] = table;
    }
    return table;
  }
}

const forwardCalls = new CallTables(16);
const backwardCalls = new CallTables(17);

/** Bytes after a region the GEMM may read past a row's end (NR − 1 floats, rounded up). */
const TAIL = 64;
/**
 * Output columns per GEMM that the default chunk aims at: narrower GEMMs (conv2's 8×8 outputs, 64
 * columns) spend their time on packing and edge tiles, much wider ones leave the cache.
 */
const CHUNK_COLUMNS = 256;
/** Images per call into the module: input and output of a slice stay about this size, so they stay in cache and memory stays small. */
const SLICE_BYTES = 1 << 20;
/**
 * Images per slice on the threads: one table of calls per slice, each table costing a wake-up of the
 * workers, so a training batch goes in one (slices bound the memory for large batches).
 */
const THREADED_SLICE_BYTES = 1 << 25;
/**
 * Calls per thread a slice on the threads is cut into: the calling thread copies the calls' inputs
 * in order while the workers start on them, then takes over the calls they have not started and copies
 * each result out as soon as it is done, so that no thread idles while another has images to go.
 */
const CALLS_PER_THREAD = 4;

let local: ConvEngine | null | undefined;
let threaded: ConvEngine | null = null;

function loaded(): ConvEngine | null {
  if (local === undefined) {
    const t = localInstance();
    local = t === null ? null : { ...t, threads: 1, run: (calls) => runConvCalls(t.exports, calls) };
  }
  return local === null ? null : (threaded ?? local);
}

/** Makes `engine` (worker threads over a shared memory) run the convolutions, or the calling thread again for null. */
export function setConvEngine(engine: ConvEngine | null): void {
  threaded = engine;
}

/** Threads the WebAssembly convolution splits a batch across now. */
export function convThreads(): number {
  return threaded?.threads ?? 1;
}

/**
 * A call's geometry block: the 16 fields, then the flag a Winograd call sets when the input it claimed
 * holds a NaN or an infinity (assembly/conv.ts's NON_FINITE_FLAG), checked by each thread on its own images.
 */
const GEOMETRY_FLOATS = CONV2D_GEOMETRY_FIELDS.length + 1;

/** An Int32Array over the whole of a memory's buffer, one per buffer: not a new view per call. */
const int32Views = new WeakMap<ArrayBufferLike, Int32Array>();

function int32Over(buffer: ArrayBufferLike): Int32Array {
  let view = int32Views.get(buffer);
  if (view === undefined) {
    view = new Int32Array(buffer);
    int32Views.set(buffer, view);
  }
  return view;
}

/**
 * `count` sets of work regions, laid out one after the other by `make`: a loop, not Array.from over an
 * array-like `{ length }` (V8's generic path for it took ~2 µs a call, 4 calls a training step).
 */
function regionSets<T>(count: number, make: () => T): T[] {
  const sets: T[] = [];
  for (let i = 0; i < count; i++) sets.push(make());
  return sets;
}

/** Writes the geometry block at `at`, its flag cleared. */
function writeGeometry(heap: Float32Array, at: number, g: Conv2dGeometry): void {
  const ints = int32Over(heap.buffer);
  const base = at >> 2;
  for (let i = 0; i < CONV2D_GEOMETRY_FIELDS.length; i++) ints[base + i] = g[CONV2D_GEOMETRY_FIELDS[i]!];
  ints[base + CONV2D_GEOMETRY_FIELDS.length] = 0;
}

/** Whether a call set the geometry block's flag: its input held a NaN or an infinity. */
function nonFiniteSeen(t: WasmInstance<unknown>, geo: number): boolean {
  const heap = heapOf(t, 0)!;
  return int32Over(heap.buffer)[(geo >> 2) + CONV2D_GEOMETRY_FIELDS.length] !== 0;
}

interface Sizes {
  cg: number;
  og: number;
  taps: number;
  outPlane: number;
  inImage: number;
  outImage: number;
}

function sizes(g: Conv2dGeometry): Sizes {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const outPlane = g.outHeight * g.outWidth;
  return { cg, og, taps: cg * g.kernelHeight * g.kernelWidth, outPlane, inImage: g.inChannels * g.inHeight * g.inWidth, outImage: g.outChannels * outPlane };
}

/** The ways conv2dForwardWasm computes a geometry, indexed as assembly/conv.ts's forwardPath numbers them. */
export const CONV2D_WASM_PATHS = ["im2col", "direct", "winograd5x5Pool", "winograd3x3", "depthwise"] as const;
export type Conv2dWasmPath = (typeof CONV2D_WASM_PATHS)[number];

/** conv2dForward's F(4×4, 3×3) Winograd way (assembly/conv.ts forwardPath). */
const WINOGRAD3 = CONV2D_WASM_PATHS.indexOf("winograd3x3");

/**
 * Which way conv2dForwardWasm computes this geometry (with `reluMaxPool2x2`, with or without arg-max):
 * the module decides (assembly/conv.ts forwardPath), asked here without running anything. Null where
 * WebAssembly SIMD is missing.
 */
export function conv2dWasmPath(g: Conv2dGeometry, options: { reluMaxPool2x2?: boolean; argmax?: boolean } = {}): Conv2dWasmPath | null {
  const t = loaded();
  if (t === null) return null;
  const mem = new Layout(t.exports.heapBase());
  const geo = mem.take(GEOMETRY_FLOATS);
  const heap = heapOf(t, mem.end);
  if (heap === null) return null;
  writeGeometry(heap, geo, g);
  const path = t.exports.forwardPathOf(geo, options.reluMaxPool2x2 === true ? 1 : 0, options.argmax === true ? 1 : 0);
  return CONV2D_WASM_PATHS[path] ?? null;
}

/** Tiles per batch of F(4×4, 3×3): the width of its 36 GEMMs. */
const WINOGRAD_TILES = 64;

/** Images per batch of tiles for F(4×4, 3×3): about WINOGRAD_TILES tiles (`options.chunk` overrides). */
function winogradImages(g: Conv2dGeometry, tilesPerImage: number, options: Conv2dWasmOptions): number {
  const wanted = options.chunk ?? Math.ceil(WINOGRAD_TILES / tilesPerImage);
  return Math.max(1, Math.min(g.batch, Math.floor(wanted)));
}

function chunkOf(g: Conv2dGeometry, s: Sizes, options: Conv2dWasmOptions): number {
  const wanted = options.chunk ?? Math.floor(CHUNK_COLUMNS / s.outPlane);
  return Math.max(1, Math.min(g.batch, Math.floor(wanted)));
}

/** Images per slice: whole chunks, about `bytes` of per-image data, at least one chunk. */
function sliceOf(g: Conv2dGeometry, chunk: number, imageFloats: number, bytes = SLICE_BYTES): number {
  const chunks = Math.max(1, Math.floor(bytes / (imageFloats * 4 * chunk)));
  return Math.min(g.batch, chunks * chunk);
}

/** Calls the threads may claim in one table for `units` chunks of images. */
const callsOf = (threads: number, units: number): number => Math.min(MAX_JOBS, units, threads * CALLS_PER_THREAD);

/**
 * Bytes of input and output per call that a staged Winograd forward aims at (ConvEngine.stage): a
 * call's data, brought in just before it runs, is then still in cache.
 */
const STAGED_CALL_BYTES = 1 << 19;

/** Calls of a staged table for `count` images in `units` chunks, `imageBytes` of input and output each: at least callsOf's. */
function stagedCalls(threads: number, units: number, count: number, imageBytes: number): number {
  return Math.min(MAX_JOBS, units, Math.max(threads * CALLS_PER_THREAD, Math.ceil((count * imageBytes) / STAGED_CALL_BYTES)));
}

/**
 * Opens `calls` (images `ranges`) on the threads: `copyIn` puts each call's input in place, in order,
 * while the threads start on the calls already in place; `copyOut` takes each call's result as soon as it is done.
 */
function runStaged(
  launch: NonNullable<ConvEngine["launch"]>, calls: ConvCall[], stride: number, ranges: ImageRanges,
  copyIn: ((i0: number, i1: number) => void) | null, copyOut: (i0: number, i1: number) => void,
): void {
  const open = launch(calls, stride, copyIn !== null);
  try {
    if (copyIn !== null) {
      for (let k = 0; k < ranges.length; k++) {
        copyIn(ranges[k]![0], ranges[k]![1]);
        open.ready(k + 1);
      }
    }
  } finally {
    open.finish((k) => copyOut(ranges[k]![0], ranges[k]![1]));
  }
}

/**
 * Runs one slice's calls: on the calling thread (all inputs in, the calls, all results out), or staged on
 * the threads. False, the results not to be used (on the calling thread not copied out), once `refused`
 * says so after the calls ran (a Winograd call found a NaN or an infinity in its input).
 */
function runSlice(
  t: ConvEngine, launch: ConvEngine["launch"], calls: ConvCall[], stride: number, count: number, ranges: ImageRanges,
  copyIn: ((i0: number, i1: number) => void) | null, copyOut: (i0: number, i1: number) => void, refused: () => boolean,
): boolean {
  if (launch === undefined || ranges.length < 2) {
    copyIn?.(0, count);
    t.run(calls);
    if (refused()) return false;
    copyOut(0, count);
    return true;
  }
  runStaged(launch, calls, stride, ranges, copyIn, copyOut);
  return !refused();
}

/**
 * Weight pairs (output × input channels) from which their F(4×4, 3×3) transform splits across the threads
 * by output channels (64×128 took 0.38 ms on the calling thread, 32×32 0.05 ms: below, opening a table
 * costs about what it saves).
 */
const SPLIT_PREPARE_PAIRS = 32 * 64;

/** Bytes of each thread's scratch region for its range of the weight transform, or 0 where it does not split. */
function prepareScratchFloats(t: ConvEngine, launch: ConvEngine["launch"], pairs: number): number {
  return launch === undefined || pairs < SPLIT_PREPARE_PAIRS ? 0 : (alignUp(t.exports.winograd3x3WeightsScratchBytes()) / 4) * t.threads;
}

/**
 * The F(4×4, 3×3) weights at `w` prepared into `dst` for the forward (or, `backward`, for the input
 * gradient) on the threads, split by the prepared weights' `rows` output channels, each thread in its
 * part of `scratch` (prepareScratchFloats' region).
 */
function prepareWinogradSplit(t: ConvEngine, launch: NonNullable<ConvEngine["launch"]>, geo: number, w: number, dst: number, backward: boolean, rows: number, scratch: number): void {
  const calls: ConvCall[] = [];
  for (const [o0, o1] of equalParts(rows, 1, t.threads)) calls.push([5, geo, w, dst, backward ? 1 : 0, o0, o1, scratch]);
  runAllReady(launch, calls, alignUp(t.exports.winograd3x3WeightsScratchBytes()));
}

/** Runs `calls`, whose inputs are all in place, on the threads (scratch as ConvEngine.launch), and returns once all are done. */
function runAllReady(launch: NonNullable<ConvEngine["launch"]>, calls: ConvCall[], scratchStride: number): void {
  launch(calls, scratchStride, false).finish(() => undefined);
}

const pooledImage = (g: Conv2dGeometry): number => g.outChannels * (g.outHeight >> 1) * (g.outWidth >> 1);

const usable = (g: Conv2dGeometry): boolean => g.batch > 0 && g.outHeight > 0 && g.outWidth > 0;

/**
 * out[N, outC, oH, oW] = weight ⊛ x (+ bias), then max(·, 0) when `relu`, all float32 and packed:
 * x [N, C, H, W], weight [outC, C/groups, kH, kW], bias [outC]. Each slice of images is copied into
 * the module's memory, unfolded there by im2col and multiplied in place by the SIMD GEMM. Returns
 * false, having written nothing, where WebAssembly SIMD is missing or the memory cannot grow; and false,
 * `out` then partly written, where the geometry goes by Winograd F(4×4, 3×3) and x or the weight holds a
 * NaN or an infinity (the tile transforms would spread it over outputs a direct sum never reaches, as
 * PyTorch's CPU convolution sums: the caller computes it again directly). Each call checks its own
 * images in the module, on whichever thread claimed it.
 */
export function conv2dForwardWasm(
  g: Conv2dGeometry,
  x: Float32Slice,
  weight: Float32Slice,
  bias: Float32Slice | null,
  out: Float32Slice,
  options: Conv2dWasmForwardOptions = {},
): boolean {
  const t = loaded();
  if (t === null) return false;
  if (!usable(g)) return true;
  const s = sizes(g);
  const e = t.exports;
  const prepared = options.prepared ?? keptPrepared(weight.data);
  const pool = options.reluMaxPool2x2 === true;
  const argmax = pool ? (options.argmax ?? null) : null;
  const withArgmax = argmax === null ? 0 : 1;
  const path = (pool ? 2 : 0) + withArgmax;
  // Kept weights still current move into the threads' memory (a new region) before the layout below, to be read in place.
  prepared?.moveInto(t.memory, weight, g, path);
  const mem = new Layout(e.heapBase());
  const geo = mem.take(GEOMETRY_FLOATS);
  const early = heapOf(t, mem.end);
  if (early === null) return false;
  writeGeometry(early, geo, g);
  // F(4×4, 3×3) Winograd takes `chunk` images per batch of tiles; the other ways, per GEMM.
  const winograd3 = e.forwardPathOf(geo, pool ? 1 : 0, withArgmax) === WINOGRAD3;
  const chunk = winograd3 ? winogradImages(g, e.winograd3x3Tiles(geo), options) : chunkOf(g, s, options);
  const threads = Math.min(t.threads, Math.ceil(g.batch / chunk));
  const launch = threads > 1 ? t.launch : undefined;
  const outImage = pool ? pooledImage(g) : s.outImage;
  const slice = sliceOf(g, chunk * threads, s.inImage + outImage * (argmax === null ? 1 : 2), launch === undefined ? SLICE_BYTES : THREADED_SLICE_BYTES);
  const width = chunk * s.outPlane;
  // x, the weight and out where they are when they live in the module (resident-storage.ts), else -1: copied in or out.
  const xOwn = ownAt(t, x);
  const wOwn = ownAt(t, weight);
  const outOwn = ownAt(t, out);
  // x copied into the caller's resident copy (inputCopy) rather than into a region of this call's.
  const copyAt = xOwn < 0 && options.inputCopy != null && options.inputCopy.length >= g.batch * s.inImage ? addressOf(t.memory, options.inputCopy) : -1;
  const preparedFloats = e.preparedFloats(geo, pool ? 1 : 0, withArgmax);
  const kept = prepared?.lookup(weight, g, path, preparedFloats) ?? null;
  // F(4×4, 3×3) reads only the prepared weights: kept ones in the memory are read there, the weights not copied
  // in (nor checked for non-finite values again: they were when prepared, and their version has not changed).
  const keptAt = winograd3 && kept !== null ? addressOf(t.memory, kept) : -1;
  const wAt = keptAt >= 0 ? 0 : wOwn >= 0 ? wOwn : mem.take(g.outChannels * s.taps);
  const preparedAt = keptAt >= 0 ? keptAt : mem.take(preparedFloats);
  const bAt = bias === null ? 0 : mem.take(g.outChannels);
  const xAt = xOwn >= 0 || copyAt >= 0 ? 0 : mem.take(slice * s.inImage);
  const outAt = outOwn >= 0 ? 0 : mem.take(slice * outImage);
  const argmaxOwn = argmax === null ? -1 : addressOf(t.memory, argmax);
  const argmaxAt = argmax === null || argmaxOwn >= 0 ? 0 : mem.take(slice * outImage);
  // Pooling without arg-max may take the 5×5 Winograd path, whose scratch lives in `cols`; so does F(4×4, 3×3)'s.
  let colsFloats = pool && argmax === null ? Math.max(s.taps * width, e.winogradScratchFloats(g.inChannels, g.outChannels)) : s.taps * width;
  if (winograd3) colsFloats = Math.ceil(e.winograd3x3ScratchBytes(geo, chunk) / 4);
  const prepareFloats = winograd3 && kept === null ? prepareScratchFloats(t, launch, g.outChannels * g.inChannels) : 0;
  const prepareScratch = prepareFloats === 0 ? 0 : mem.take(prepareFloats);
  // On the threads, one set of scratch regions per thread (any thread may claim any call), else per call.
  const scratchStart = mem.end;
  const scratch = regionSets(launch === undefined ? threads : t.threads, () => ({
    conv: pool && !winograd3 ? mem.take(chunk * s.outImage) : 0,
    cols: mem.take(colsFloats, TAIL),
    y: winograd3 ? 0 : mem.take(s.og * width),
    work: winograd3 ? 0 : mem.take(0, e.workBytes(s.og, width, s.taps)),
  }));
  const heap = heapOf(t, mem.end);
  if (heap === null) return false;
  if (keptAt < 0) {
    if (wOwn < 0) heap.set(weight.data.subarray(weight.offset, weight.offset + g.outChannels * s.taps), wAt >> 2);
    if (winograd3 && e.anyNonFinite(wAt, g.outChannels * s.taps) !== 0) return false;
  }
  if (bias !== null) heap.set(bias.data.subarray(bias.offset, bias.offset + g.outChannels), bAt >> 2);
  if (kept !== null) {
    if (keptAt < 0) heap.set(kept, preparedAt >> 2);
  } else {
    if (prepareScratch !== 0) prepareWinogradSplit(t, launch!, geo, wAt, preparedAt, false, g.outChannels, prepareScratch);
    else e.prepareForward(geo, wAt, pool ? 1 : 0, withArgmax, preparedAt);
    prepared?.keep(weight, g, path, heap.subarray(preparedAt >> 2, (preparedAt >> 2) + preparedFloats));
  }
  // The sets are alike, so equally spaced.
  const stride = (mem.end - scratchStart) / scratch.length;
  for (let n0 = 0; n0 < g.batch; n0 += slice) {
    const count = Math.min(slice, g.batch - n0);
    const staged = winograd3 && launch !== undefined && t.stage !== undefined;
    const units = Math.ceil(count / chunk);
    // x copied in range by range (runStaged): the workers' first tapered ranges lead the table (keptStagedParts).
    const tapered = launch === undefined || winograd3 ? null
      : xOwn < 0 ? keptStagedParts(count, chunk, threads, callsOf(threads, units)) : keptTaperedParts(count, chunk, threads, callsOf(threads, units));
    const ranges = tapered ?? keptEqualParts(count, chunk, launch === undefined ? threads : staged ? stagedCalls(threads, units, count, (s.inImage + outImage) * 4) : callsOf(threads, units));
    // This slice's images: in the module's regions, or where x and out are.
    const xSlice = xOwn >= 0 ? xOwn + n0 * s.inImage * 4 : copyAt >= 0 ? copyAt + n0 * s.inImage * 4 : xAt;
    const outSlice = outOwn >= 0 ? outOwn + n0 * outImage * 4 : outAt;
    const argmaxSlice = argmax === null ? 0 : argmaxOwn >= 0 ? argmaxOwn + n0 * outImage * 4 : argmaxAt;
    const calls = forwardCalls.take(ranges.length);
    for (let k = 0; k < ranges.length; k++) {
      const i0 = ranges[k]![0];
      const r = scratch[launch === undefined ? k : 0]!;
      const c = calls[k]!;
      c[0] = 0; c[1] = geo; c[2] = ranges[k]![1] - i0; c[3] = xSlice + i0 * s.inImage * 4; c[4] = wAt; c[5] = preparedAt; c[6] = bAt;
      c[7] = outSlice + i0 * outImage * 4; c[8] = chunk; c[9] = options.relu === true ? 1 : 0; c[10] = r.cols; c[11] = r.y; c[12] = r.work;
      c[13] = pool ? 1 : 0; c[14] = r.conv; c[15] = argmaxSlice === 0 ? 0 : argmaxSlice + i0 * outImage * 4;
    }
    // Images [i0, i1) of this slice into the module, and their results out of it.
    const copyIn = xOwn >= 0 ? null : (i0: number, i1: number): void => {
      const xFrom = x.offset + (n0 + i0) * s.inImage;
      heap.set(x.data.subarray(xFrom, xFrom + (i1 - i0) * s.inImage), (xSlice >> 2) + i0 * s.inImage);
    };
    const copyOut = (i0: number, i1: number): void => {
      const result = heapOf(t, mem.end) ?? heap;
      const from = (outAt >> 2) + i0 * outImage;
      if (outOwn < 0) out.data.set(result.subarray(from, from + (i1 - i0) * outImage), out.offset + (n0 + i0) * outImage);
      if (argmax !== null && argmaxOwn < 0) argmax.set(new Int32Array(result.buffer, argmaxAt + i0 * outImage * 4, (i1 - i0) * outImage), (n0 + i0) * outImage);
    };
    if (staged && copyIn !== null && ranges.length > 1) {
      t.stage!(calls, stride, (k) => copyIn(ranges[k]![0], ranges[k]![1]), (k) => copyOut(ranges[k]![0], ranges[k]![1]));
      if (nonFiniteSeen(t, geo)) return false;
    } else if (!runSlice(t, launch, calls, stride, count, ranges, copyIn, copyOut, () => nonFiniteSeen(t, geo))) return false;
  }
  // One slice: the whole output is still in the module, for a kernel that reads it next (handoff.ts).
  if (slice >= g.batch && argmax === null && outOwn < 0) offerOutput(t.memory, out.data, out.offset, g.batch * outImage, outAt);
  return true;
}

/**
 * Whether `a` lives in the memory the WebAssembly convolution runs on now (resident-storage.ts): it is then
 * read in place, and an `inputCopy` of conv2dForwardWasm may be it.
 */
export function conv2dWasmResident(a: Float32Array): boolean {
  const t = loaded();
  return t !== null && addressOf(t.memory, a) >= 0;
}

/** The byte address of a slice's first float where it lives in `t`'s memory (resident-storage.ts), else -1. */
function ownAt(t: ConvEngine, a: Float32Slice): number {
  const at = addressOf(t.memory, a.data);
  return at < 0 ? -1 : at + a.offset * 4;
}


/** Where conv2dBackwardWasm writes each gradient (packed float32, overwritten); null for one not wanted. */
export interface Conv2dWasmGrads {
  /** [N, C, H, W] */
  input: Float32Slice | null;
  /** [outC, C/groups, kH, kW] */
  weight: Float32Slice | null;
  /** [outC] */
  bias: Float32Slice | null;
}

/** Floats of dU regions from which their sum and transform back go split across the threads: below, a wake-up of the workers costs about what it saves. */
const SPLIT_FINISH_FLOATS = 1 << 18;

/** conv2dBackward's ways (assembly/conv.ts backwardPath): im2col + GEMM, Winograd F(4×4, 3×3), depthwise. */
const BACKWARD_IM2COL = 0;
const BACKWARD_WINOGRAD3 = WINOGRAD3;

/**
 * The gradients of Σ out · gradOut for conv2dForwardWasm: of the convolution's own output (before
 * any ReLU) by default, of its pooled output with the `argmax` of a reluMaxPool2x2 forward, written
 * into `grads`. The module picks the way (assembly/conv.ts backwardPath): for a geometry the forward
 * computes by Winograd F(4×4, 3×3), the weight gradient by Winograd (summed in the Winograd domain) and
 * the input gradient as that convolution of gradOut with the flipped weights, both in one pass over
 * each slice of images; else input = col2im(Wᵀ · G), weight = Σ G · colsᵀ (summed transposed in the
 * module), the columns recomputed from x in the module. Bias = Σ G. x is needed only for the weight
 * gradient (else pass null). On the threads, each call of a slice sums its images' weight and bias
 * gradients in a region of its own (call k of every slice in the same one), and the module adds the
 * regions up in call order at the end: the same bits whichever thread claimed which call. Returns
 * false, having written nothing, where WebAssembly SIMD is missing or the memory cannot grow. Where the
 * Winograd way finds a NaN or an infinity in gradOut, x or the weight (see conv2dForwardWasm), it
 * computes the gradients again by im2col.
 */
export function conv2dBackwardWasm(
  g: Conv2dGeometry,
  gradOut: Float32Slice,
  x: Float32Slice | null,
  weight: Float32Slice,
  grads: Conv2dWasmGrads,
  options: Conv2dWasmBackwardOptions = {},
): boolean {
  const t = loaded();
  if (t === null) return false;
  if (grads.weight !== null && x === null) return false;
  const s = sizes(g);
  if (!usable(g)) {
    grads.input?.data.fill(0, grads.input.offset, grads.input.offset + g.batch * s.inImage);
    grads.weight?.data.fill(0, grads.weight.offset, grads.weight.offset + g.outChannels * s.taps);
    grads.bias?.data.fill(0, grads.bias.offset, grads.bias.offset + g.outChannels);
    return true;
  }
  if (grads.input === null && grads.weight === null && grads.bias === null) return true;
  const argmax = options.argmax ?? null;
  // gradOut as the kernel before left it in the module (a BatchNorm's input gradient, or with `argmax` the
  // next convolution's: see handoff.ts), or -1; not asked where gradOut lives in the module (backwardBy).
  const resident = ownAt(t, gradOut) >= 0 ? -1 : takeOutput(t.memory, gradOut.data, gradOut.offset, g.batch * (argmax === null ? s.outImage : pooledImage(g)));
  const mem = new Layout(t.exports.heapBase());
  const geo = mem.take(GEOMETRY_FLOATS);
  const early = heapOf(t, mem.end);
  if (early === null) return false;
  writeGeometry(early, geo, g);
  const path = t.exports.backwardPathOf(geo, grads.input === null ? 0 : 1, argmax === null ? 0 : 1);
  const done = backwardBy(t, path, g, s, geo, mem.end, gradOut, x, weight, grads, argmax, options, resident);
  if (done !== "refused") return done === "done";
  return backwardBy(t, BACKWARD_IM2COL, g, s, geo, mem.end, gradOut, x, weight, grads, argmax, options, -1) === "done";
}

/** conv2dBackwardWasm by the way `path`: "refused" where Winograd met a non-finite input, "failed" where the memory cannot grow. */
function backwardBy(
  t: ConvEngine, path: number, g: Conv2dGeometry, s: Sizes, geo: number, start: number, gradOut: Float32Slice, x: Float32Slice | null,
  weight: Float32Slice, grads: Conv2dWasmGrads, argmax: Int32Array | null, options: Conv2dWasmBackwardOptions, resident: number,
): "done" | "refused" | "failed" {
  const e = t.exports;
  const wSize = g.outChannels * s.taps;
  const wantX = grads.weight !== null;
  const wantGx = grads.input !== null;
  const winograd3 = path === BACKWARD_WINOGRAD3;
  const chunk = winograd3 ? winogradImages(g, e.winograd3x3Tiles(geo), options) : chunkOf(g, s, options);
  const threads = Math.min(t.threads, Math.ceil(g.batch / chunk));
  const launch = threads > 1 ? t.launch : undefined;
  const gyImage = argmax === null ? s.outImage : pooledImage(g);
  const imageFloats = gyImage * (argmax === null ? 1 : 2) + (wantX ? s.inImage : 0) + (wantGx ? s.inImage : 0);
  const slice = sliceOf(g, chunk * threads, imageFloats, launch === undefined ? SLICE_BYTES : THREADED_SLICE_BYTES);
  // gradOut, x, the weight and the input gradient where they are when they live in the module
  // (resident-storage.ts), else -1: copied in or out.
  const gyOwn = ownAt(t, gradOut);
  const xOwn = x === null ? -1 : ownAt(t, x);
  const wOwn = ownAt(t, weight);
  const gxOwn = grads.input === null ? -1 : ownAt(t, grads.input);
  // A whole batch of gradOut already in the module (a handed-off output) is read where it is, each slice's
  // part in place, everything else laid out after it.
  const gyResident = gyOwn >= 0 ? -1 : resident >= start ? resident : -1;
  const mem = new Layout(gyResident < 0 ? start : gyResident + g.batch * gyImage * 4 + TAIL);
  const wAt = wOwn >= 0 ? wOwn : mem.take(wSize);
  // The Winograd way reads the weights flipped, transposed and transformed for the input gradient.
  const preparedFloats = winograd3 ? e.preparedBackwardFloats(geo, wantGx ? 1 : 0) : 0;
  const preparedAt = preparedFloats === 0 ? 0 : mem.take(preparedFloats);
  const xAt = wantX && xOwn < 0 ? mem.take(slice * s.inImage) : 0;
  const gyAt = gyOwn >= 0 ? gyOwn : gyResident < 0 ? mem.take(slice * gyImage, TAIL) : gyResident;
  const argmaxOwn = argmax === null ? -1 : addressOf(t.memory, argmax);
  const argmaxAt = argmax === null || argmaxOwn >= 0 ? 0 : mem.take(slice * gyImage);
  const gxAt = wantGx && gxOwn < 0 ? mem.take(slice * s.inImage) : 0;
  // Winograd sums the weight gradient in the Winograd domain, dU [36, O, C], finished at the end.
  const gwFloats = winograd3 ? 36 * g.outChannels * g.inChannels : wSize;
  const units = Math.ceil(slice / chunk);
  // As many calls as the forward's, also where each call sums its weight gradient (the Winograd dU: 36·outC·C
  // floats) in a region of its own: the workers start on the first images while the calling thread copies
  // the next ones in, and it copies each input gradient out between its own calls. One call per thread was
  // faster while the finish gathered every region at once; since it adds them in one streaming pass first,
  // CIFAR training steps on 2 threads (in-process alternation, 48 steps each, shared machine) took 121.8 ms
  // with 2 calls, 113.1 with callsOf's 8, 110.4 with 16 (the same 7-10% in 3 runs).
  // Call k's sums in region k of each: regions equally spaced, a whole number of cache lines apart.
  const gwStride = Math.ceil(gwFloats / 16) * 16;
  const gbStride = Math.ceil(g.outChannels / 16) * 16;
  const regionBytes = ((wantX ? gwStride : 0) + (grads.bias !== null ? gbStride : 0)) * 4;
  // Fewer calls where their regions would outgrow WEIGHT_SUM_BYTES (a large layer on many threads).
  const callCount = launch === undefined ? 1 : weightSumCalls(Math.max(1, Math.min(MAX_JOBS, units, Math.floor(options.calls ?? callsOf(threads, units)))), threads, regionBytes);
  // Tapered ranges only in one slice: a later slice adds its call k's sums into region k, which the first must have written.
  const tapered = launch !== undefined && !winograd3 && options.calls === undefined && slice >= g.batch;
  const gwSums = wantX ? mem.take(callCount * gwStride) : 0;
  const gbSums = grads.bias !== null ? mem.take(callCount * gbStride) : 0;
  const finished = wantX ? mem.take(wSize) : 0;
  const finishedBias = grads.bias !== null ? mem.take(g.outChannels) : 0;
  // The transform back of dU runs split by output channels on the threads when it is large enough to pay for a wake-up.
  const finishParts = wantX && winograd3 ? (launch === undefined || callCount * gwFloats < SPLIT_FINISH_FLOATS ? 1 : Math.min(threads, g.outChannels)) : 0;
  const finishStride = finishParts === 0 ? 0 : alignUp(e.winograd3x3WeightsBackwardScratchBytes());
  const finishScratch = finishParts === 0 ? 0 : mem.take((finishStride / 4) * (finishParts === 1 ? 1 : t.threads));
  const prepareFloats = preparedFloats === 0 ? 0 : prepareScratchFloats(t, launch, g.outChannels * g.inChannels);
  const prepareScratch = prepareFloats === 0 ? 0 : mem.take(prepareFloats);
  // On the threads, one set of work regions per thread (any thread may claim any call), else per call.
  const scratchStart = mem.end;
  const scratch = regionSets(launch === undefined ? 1 : t.threads, () => ({
    cols: winograd3
      ? mem.take(Math.ceil(e.winograd3x3BackwardScratchBytes(geo, chunk, wantGx ? 1 : 0, wantX ? 1 : 0) / 4), TAIL)
      : wantX ? mem.take(s.taps * chunk * s.outPlane, TAIL) : 0,
    dcols: !winograd3 && wantGx ? mem.take(s.taps * chunk * s.outPlane) : 0,
    gbuf: !winograd3 && (chunk > 1 || argmax !== null) ? mem.take(g.outChannels * chunk * s.outPlane, TAIL) : 0,
    work: winograd3 ? 0 : mem.take(0, Math.max(e.workBytes(s.taps, s.og, chunk * s.outPlane), e.workBytes(s.taps, chunk * s.outPlane, s.og))),
  }));
  const laid = heapOf(t, mem.end);
  if (laid === null) return "failed";
  let heap = laid;
  if (wOwn < 0) heap.set(weight.data.subarray(weight.offset, weight.offset + wSize), wAt >> 2);
  if (preparedAt !== 0) {
    if (e.anyNonFinite(wAt, wSize) !== 0) return "refused";
    if (prepareScratch !== 0) prepareWinogradSplit(t, launch!, geo, wAt, preparedAt, true, g.inChannels, prepareScratch);
    else e.prepareBackward(geo, wAt, preparedAt);
  }
  const stride = (mem.end - scratchStart) / scratch.length;
  for (let n0 = 0; n0 < g.batch; n0 += slice) {
    const count = Math.min(slice, g.batch - n0);
    // Images [i0, i1) of this slice into the module, and their input gradient out of it (the call that
    // computes it zeroes it first where it adds into it: the thread that claimed it, not the calling one).
    const inPlace = (gyResident >= 0 || gyOwn >= 0) && (argmax === null || argmaxOwn >= 0) && (!wantX || x === null || xOwn >= 0);
    const copyIn = inPlace ? null : (i0: number, i1: number): void => {
      const gyFrom = gradOut.offset + (n0 + i0) * gyImage;
      if (gyResident < 0 && gyOwn < 0) heap.set(gradOut.data.subarray(gyFrom, gyFrom + (i1 - i0) * gyImage), (gyAt >> 2) + i0 * gyImage);
      if (argmax !== null && argmaxOwn < 0) new Int32Array(heap.buffer, argmaxAt + i0 * gyImage * 4, (i1 - i0) * gyImage).set(argmax.subarray((n0 + i0) * gyImage, (n0 + i1) * gyImage));
      if (x !== null && wantX && xOwn < 0) {
        const xFrom = x.offset + (n0 + i0) * s.inImage;
        heap.set(x.data.subarray(xFrom, xFrom + (i1 - i0) * s.inImage), (xAt >> 2) + i0 * s.inImage);
      }
    };
    const copyOut = (i0: number, i1: number): void => {
      heap = heapOf(t, mem.end) ?? heap;
      const from = (gxAt >> 2) + i0 * s.inImage;
      if (grads.input !== null && gxOwn < 0) grads.input.data.set(heap.subarray(from, from + (i1 - i0) * s.inImage), grads.input.offset + (n0 + i0) * s.inImage);
    };
    const taperedRanges = tapered ? keptTaperedParts(count, chunk, threads, callCount) : null;
    const imageRanges = taperedRanges ?? keptEqualParts(count, chunk, callCount);
    // Inputs copied in range by range (runStaged): the workers' first tapered ranges lead the table, each
    // range still summing into the region of its place in image order (the same bits whoever claims it).
    const order = tapered && !inPlace ? keptStagedOrder(imageRanges.length, threads) : null;
    const ranges = order === null ? imageRanges : taperedRanges !== null ? keptStagedParts(count, chunk, threads, callCount)! : order.map((k) => imageRanges[k]!);
    const gySlice = gyOwn >= 0 || gyResident >= 0 ? gyAt + n0 * gyImage * 4 : gyAt;
    // This slice's images: in the module's regions, or where x and the input gradient are.
    const xSlice = !wantX ? 0 : xOwn >= 0 ? xOwn + n0 * s.inImage * 4 : xAt;
    const gxSlice = !wantGx ? 0 : gxOwn >= 0 ? gxOwn + n0 * s.inImage * 4 : gxAt;
    const argmaxSlice = argmax === null ? 0 : argmaxOwn >= 0 ? argmaxOwn + n0 * gyImage * 4 : argmaxAt;
    const accumulate = n0 > 0 ? 1 : 0;
    const calls = backwardCalls.take(ranges.length);
    for (let k = 0; k < ranges.length; k++) {
      const i0 = ranges[k]![0];
      const r = scratch[launch === undefined ? k : 0]!;
      const region = order === null ? k : order[k]!;
      const c = calls[k]!;
      c[0] = 1; c[1] = geo; c[2] = ranges[k]![1] - i0; c[3] = xSlice === 0 ? 0 : xSlice + i0 * s.inImage * 4; c[4] = preparedAt === 0 ? wAt : preparedAt;
      c[5] = gySlice + i0 * gyImage * 4; c[6] = gxSlice === 0 ? 0 : gxSlice + i0 * s.inImage * 4; c[7] = gwSums === 0 ? 0 : gwSums + region * gwStride * 4;
      c[8] = gbSums === 0 ? 0 : gbSums + region * gbStride * 4; c[9] = chunk; c[10] = r.cols; c[11] = r.dcols; c[12] = r.gbuf; c[13] = r.work;
      c[14] = argmaxSlice === 0 ? 0 : argmaxSlice + i0 * gyImage * 4; c[15] = path; c[16] = accumulate;
    }
    if (!runSlice(t, launch, calls, stride, count, ranges, copyIn, copyOut, () => winograd3 && nonFiniteSeen(t, geo))) return "refused";
  }
  heap = heapOf(t, mem.end) ?? heap;
  // A small batch may have used fewer calls than regions: only the ones written are added.
  const firstCount = Math.min(slice, g.batch);
  const written = Math.min(callCount, ((tapered ? keptTaperedParts(firstCount, chunk, threads, callCount) : null) ?? keptEqualParts(firstCount, chunk, callCount)).length);
  if (grads.weight !== null) {
    if (winograd3) {
      const finish: ConvCall[] = [];
      for (const [o0, o1] of equalParts(g.outChannels, 1, finishParts)) finish.push([4, gwSums, written, gwStride * 4, g.outChannels, g.inChannels, o0, o1, finished, finishScratch]);
      if (finish.length === 1 || launch === undefined) runConvCalls(e, finish);
      else runAllReady(launch, finish, finishStride);
    } else e.im2colWeightGradFinish(geo, gwSums, written, gwStride * 4, 0, g.outChannels, finished);
    heap = heapOf(t, mem.end) ?? heap;
    grads.weight.data.set(heap.subarray(finished >> 2, (finished >> 2) + wSize), grads.weight.offset);
  }
  if (grads.bias !== null) {
    e.sumRegions(gbSums, written, gbStride * 4, g.outChannels, finishedBias);
    heap = heapOf(t, mem.end) ?? heap;
    grads.bias.data.set(heap.subarray(finishedBias >> 2, (finishedBias >> 2) + g.outChannels), grads.bias.offset);
  }
  // One slice: the whole input gradient is still in the module, for the kernel the caller said reads it next
  // (a BatchNorm's backward, see handoff.ts).
  if (grads.input !== null && gxOwn < 0 && slice >= g.batch && options.handOffGradInput === true) {
    offerOutput(t.memory, grads.input.data, grads.input.offset, g.batch * s.inImage, gxAt, true);
  }
  return "done";
}
