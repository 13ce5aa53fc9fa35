import { versionOf } from "../../version.js";
import { addressOf, releaseResidentFloats, residentFloats } from "../wasm/resident-storage.js";
import type { WasmMemory } from "../wasm/wasm-api.js";
import { CONV2D_GEOMETRY_FIELDS, type Conv2dGeometry } from "./geometry.js";

/**
 * A convolution's weights as the kernel module prepares them before a forward (transformed for
 * Winograd, packed for the direct kernels), kept by a caller that runs the same convolution again
 * (a compiled graph's node, through its reused ctx): the next forward copies them back instead of
 * preparing them again, as long as the weights' buffer, offset and version, the geometry and the
 * kernel path are those they were prepared for. An optimizer step bumps the version, so trained
 * weights are prepared afresh.
 */
export class PreparedWeights {
  private source: Float32Array | null = null;
  private offset = -1;
  private version = -1;
  private path = -1;
  private readonly geometry = new Float64Array(CONV2D_GEOMETRY_FIELDS.length);
  private floats: Float32Array | null = null;

  /** The prepared floats when they are these weights' for this geometry and path (of `length` floats), else null. */
  lookup(weight: { data: Float32Array; offset: number }, g: Conv2dGeometry, path: number, length: number): Float32Array | null {
    const floats = this.floats;
    return floats !== null && floats.length === length && this.current(weight, g, path) ? floats : null;
  }

  /** Whether the kept floats (if any) are the preparation of these weights, as they are now, for `g` and `path`. */
  private current(weight: { data: Float32Array; offset: number }, g: Conv2dGeometry, path: number): boolean {
    if (weight.data !== this.source || weight.offset !== this.offset || path !== this.path) return false;
    if (versionOf(weight.data) !== this.version) return false;
    for (let i = 0; i < CONV2D_GEOMETRY_FIELDS.length; i++) if (g[CONV2D_GEOMETRY_FIELDS[i]!] !== this.geometry[i]) return false;
    return true;
  }

  /** Keeps a copy of `prepared`, the preparation of `weight` for `g` and `path`. */
  keep(weight: { data: Float32Array; offset: number }, g: Conv2dGeometry, path: number, prepared: Float32Array): void {
    if (this.floats === null || this.floats.length !== prepared.length) {
      if (this.floats !== null) releaseResidentFloats(this.floats);
      this.floats = new Float32Array(prepared.length);
    }
    this.floats.set(prepared);
    this.source = weight.data;
    this.offset = weight.offset;
    this.version = versionOf(weight.data);
    this.path = path;
    for (let i = 0; i < CONV2D_GEOMETRY_FIELDS.length; i++) this.geometry[i] = g[CONV2D_GEOMETRY_FIELDS[i]!];
  }

  /**
   * Moves the kept floats into `memory`'s resident storage (resident-storage.ts) where they are not yet and
   * it has room, so that a kernel on that memory reads them in place instead of copying them in every call;
   * only when they are current for `weight`, `g` and `path` (the call reads them): weights trained between
   * calls are prepared afresh every call, and a region for them would be rewritten and never read in place.
   * To be called before the kernel lays out its memory: the new region may lie where that layout would.
   */
  moveInto(memory: WasmMemory, weight: { data: Float32Array; offset: number }, g: Conv2dGeometry, path: number): void {
    const floats = this.floats;
    if (floats === null || !this.current(weight, g, path) || addressOf(memory, floats) >= 0) return;
    const moved = residentFloats(memory, floats.length);
    if (moved === undefined) return;
    moved.set(floats);
    releaseResidentFloats(floats);
    this.floats = moved;
  }
}

const constants = new WeakMap<Float32Array, PreparedWeights>();

/**
 * Declares `weights` constant to every convolution that reads them (a folded BatchNorm's weight, which
 * no one writes): conv2dForwardWasm then keeps their prepared form across calls, as a compiled node
 * does with its PreparedWeights (still checked against their version, geometry and path).
 */
export function keepPrepared(weights: Float32Array): void {
  if (!constants.has(weights)) constants.set(weights, new PreparedWeights());
}

/** The PreparedWeights of weights declared constant by keepPrepared, else undefined. */
export function keptPrepared(weights: Float32Array): PreparedWeights | undefined {
  return constants.get(weights);
}
