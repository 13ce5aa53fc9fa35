import { setStorageProvider } from "../../buffer-pool.js";
import type { FloatArray } from "../../dtype.js";
import { warnResidentLiveLimit, warnResidentPiledUp } from "../fast-path-warnings.js";
import { memoryTouched } from "./handoff.js";
import { WASM_PAGE } from "./wasm-api.js";
import type { WasmMemory } from "./wasm-api.js";

// Float32 tensor storage inside the worker threads' shared WebAssembly.Memory, so that the kernels read
// their operands and write their results where they are instead of copying them in and out (the calling
// thread's copies were the serial part of a split kernel, and every worker read data that thread had just
// written). While threads run, `allocate` takes an array of MIN_RESIDENT_BYTES or more from here
// (buffer-pool.ts asks); the array is a Float32Array over the memory's SharedArrayBuffer, which stays valid
// when the memory grows (a shared memory never detaches). Its region is given back by the buffer pool's
// recycle, or once the array is collected (a FinalizationRegistry). The regions lie right after the
// module's own data; the kernels lay out their scratch after the last region (the threads' heapBase is
// moved past them, as engine.ts does for the calling thread's resident-regions.ts). Every array over the
// memory shares one ArrayBuffer, so code that tells arrays' storage apart asks storageOf (buffer-pool.ts)
// rather than comparing `.buffer`: the region an array lies in is its storage.

/** Smaller arrays stay ordinary: the split kernels take calls from 32,768 floats on, and a small array is cheap to copy. */
export const MIN_RESIDENT_BYTES = 1 << 16;
/** Bytes the regions may span at most, so that the kernels' scratch still fits in the memory's 1 GiB; beyond, arrays are ordinary again. */
export const MAX_RESIDENT_BYTES = 512 * 1024 * 1024;
/**
 * Bytes the regions still taken at the end of a backward pass may hold (the buffer pool's budget for what
 * piles up between steps). An array nobody recycles comes back only once the garbage collector has
 * collected it and the event loop has run the finalization callbacks, which a synchronous training loop
 * never lets happen, and the memory never shrinks; so once a backward pass ends with more than this taken,
 * new arrays are ordinary, with a warning, until the regions taken fall below it again. Within a step the
 * regions may span up to MAX_RESIDENT_BYTES: a large batch or model needs more at once (ResNet-20 at batch
 * 128, CIFAR shape, 2 threads: over 160 MiB in one training step, all given back by its backward). What the
 * CIFAR-shaped network holds at once on 2 threads: 68 MiB after a training step's forward at batch 64,
 * 6 MiB (37 MiB span) in inference at batch 256.
 */
export const MAX_TAKEN_BYTES = 160 * 1024 * 1024;
const ALIGN = 64;

/** A run of the memory: an array's storage while taken (a new object for every array), or a free gap. */
interface Region {
  at: number;
  bytes: number;
  free: boolean;
}

/** The regions of one memory: those of the threads running now, or of threads since stopped whose arrays live on. */
class ResidentHeap {
  /** Taken regions and free gaps, in address order, from `start`; never a free one last. */
  readonly regions: Region[] = [];
  readonly owners = new WeakMap<Float32Array, Region>();
  readonly registry = new FinalizationRegistry<Region>((region) => this.free(region));
  /** Bytes taken, free gaps excluded. */
  taken = 0;
  /** Whether a backward pass has ended since these threads started (so steps are marked). */
  stepsMarked = false;
  /** Whether the last backward pass ended with more than `budget` taken (regions pile up between steps), until they fall to it. */
  piledUp = false;

  constructor(
    readonly memory: WasmMemory,
    readonly start: number,
    readonly limit: number,
    readonly budget: number,
  ) {}

  /** Bytes from `start` to the end of the last region. */
  span(): number {
    const last = this.regions[this.regions.length - 1];
    return last === undefined ? 0 : last.at + last.bytes - this.start;
  }

  take(length: number): Float32Array | undefined {
    const bytes = Math.ceil((length * 4) / ALIGN) * ALIGN;
    if (this.piledUp && this.taken + bytes > this.budget) {
      warnResidentPiledUp(this.budget);
      return undefined;
    }
    let region: Region | undefined;
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i]!;
      if (!r.free || r.bytes < bytes) continue;
      region = { at: r.at, bytes, free: false };
      if (r.bytes > bytes) {
        r.at += bytes;
        r.bytes -= bytes;
        this.regions.splice(i, 0, region);
      } else this.regions[i] = region;
      break;
    }
    if (region === undefined) {
      const at = this.start + this.span();
      if (at + bytes - this.start > this.limit) {
        warnResidentLiveLimit(this.limit, this.stepsMarked);
        return undefined;
      }
      if (!this.reserve(at + bytes)) {
        warnResidentLiveLimit(null, this.stepsMarked);
        return undefined;
      }
      // The new region covers what a kernel left after heapBase for the next one (handoff.ts).
      memoryTouched();
      region = { at, bytes, free: false };
      this.regions.push(region);
    }
    this.taken += bytes;
    const array = new Float32Array(this.memory.buffer as SharedArrayBuffer, region.at, length);
    buffers.set(array.buffer, this);
    this.owners.set(array, region);
    this.registry.register(array, region, region);
    return array;
  }

  /** Grows the memory to at least `bytes` (and the scratch's first page); false where it cannot. */
  private reserve(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (have >= bytes + WASM_PAGE) return true;
    try {
      this.memory.grow(Math.ceil((bytes + WASM_PAGE - have) / WASM_PAGE));
      return true;
    } catch {
      return false;
    }
  }

  release(array: Float32Array): boolean {
    const region = this.owners.get(array);
    if (region === undefined) return false;
    this.owners.delete(array);
    this.registry.unregister(region);
    this.free(region);
    return true;
  }

  /** Gives a taken region back: merged with free neighbours, a free run at the end dropped. */
  free(region: Region): void {
    const i = this.regions.indexOf(region);
    if (i < 0 || region.free) return;
    this.taken -= region.bytes;
    // Regions came back (collected or recycled): what piled up is gone.
    if (this.taken <= this.budget) this.piledUp = false;
    const gap: Region = { at: region.at, bytes: region.bytes, free: true };
    this.regions[i] = gap;
    const next = this.regions[i + 1];
    if (next?.free === true) {
      gap.bytes += next.bytes;
      this.regions.splice(i + 1, 1);
    }
    const prev = this.regions[i - 1];
    if (prev?.free === true) {
      prev.bytes += gap.bytes;
      this.regions.splice(i, 1);
    }
    while (this.regions.length > 0 && this.regions[this.regions.length - 1]!.free) this.regions.pop();
  }

  /** The taken region holding byte `at`, if any (binary search: regions are in address order). */
  regionAt(at: number): Region | undefined {
    let lo = 0;
    let hi = this.regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.regions[mid]!;
      if (at < r.at) hi = mid - 1;
      else if (at >= r.at + r.bytes) lo = mid + 1;
      else return r.free ? undefined : r;
    }
    return undefined;
  }
}

/**
 * A backward pass has ended (autograd.ts, graph not retained): what is still taken now piles up between
 * steps. Past the budget, new arrays are ordinary until regions come back.
 */
export function residentBackwardEnded(): void {
  const heap = active;
  if (heap === null) return;
  heap.stepsMarked = true;
  heap.piledUp = heap.taken > heap.budget;
}

/** The heap every SharedArrayBuffer a resident array was made over belongs to (a memory's buffer object changes when it grows). */
const buffers = new WeakMap<ArrayBufferLike, ResidentHeap>();
/** The heap of the threads running now, or null: then `allocate` makes ordinary arrays. */
let active: ResidentHeap | null = null;

/**
 * Tensor storage is taken from `memory` (the running threads' shared memory) from now on, in regions from
 * byte `start` (after the module's own data) spanning at most `limit` bytes, and none new while more than
 * `budget` bytes were still taken at the end of the last backward pass; returns the function the
 * threads' heapBase adds to `start` (the bytes the regions span), so that the kernels' scratch stays after them.
 */
export function attachResidentStorage(memory: WasmMemory, start: number, limit = MAX_RESIDENT_BYTES, budget = MAX_TAKEN_BYTES): () => number {
  const heap = new ResidentHeap(memory, start, limit, budget);
  active = heap;
  setStorageProvider(provider);
  return () => heap.span();
}

/** Storage is no longer taken from `memory` (its threads stop); its arrays stay valid and their regions are still given back. */
export function detachResidentStorage(memory: WasmMemory): void {
  if (active?.memory === memory) active = null;
}

/**
 * The byte address of `array`'s first element in `memory` when the array lies in resident storage there
 * (so a kernel reads or writes it in place; an Int32Array over a resident float array too), else -1 (the
 * kernel copies it in or out).
 */
export function addressOf(memory: WasmMemory, array: Float32Array | Int32Array): number {
  const heap = buffers.get(array.buffer);
  if (heap === undefined || heap.memory !== memory) return -1;
  const at = array.byteOffset;
  return at >= heap.start && at + array.byteLength <= heap.start + heap.span() ? at : -1;
}

/**
 * `length` floats of resident storage in `memory`, outside the buffer pool, for what a kernel keeps across
 * its calls (a convolution's prepared weights, prepared-weights.ts) so that later calls read it in place;
 * undefined unless `memory` is the running threads' memory and has room. Its region comes back by
 * releaseResidentFloats, or once the array is collected. A new region may lie where a kernel's layout
 * from heapBase would: take it before laying out.
 */
export function residentFloats(memory: WasmMemory, length: number): Float32Array | undefined {
  return active !== null && active.memory === memory && length > 0 ? active.take(length) : undefined;
}

/** Gives the region of a residentFloats array back (nothing for any other array). */
export function releaseResidentFloats(array: Float32Array): void {
  buffers.get(array.buffer)?.release(array);
}

/** What the regions of the active memory hold: for tests and memory checks. */
export function residentStorageStats(): { active: boolean; takenBytes: number; spanBytes: number; regions: number } {
  const heap = active;
  if (heap === null) return { active: false, takenBytes: 0, spanBytes: 0, regions: 0 };
  return { active: true, takenBytes: heap.taken, spanBytes: heap.span(), regions: heap.regions.filter((r) => !r.free).length };
}

const provider = {
  take(length: number): Float32Array | undefined {
    return active === null || length * 4 < MIN_RESIDENT_BYTES ? undefined : active.take(length);
  },
  release(array: FloatArray): boolean {
    if (!(array instanceof Float32Array)) return false;
    return buffers.get(array.buffer)?.release(array) ?? false;
  },
  identity(array: FloatArray): object | undefined {
    const heap = buffers.get(array.buffer);
    if (heap === undefined) return undefined;
    return (array instanceof Float32Array ? heap.owners.get(array) : undefined) ?? heap.regionAt(array.byteOffset);
  },
};
