import type { MatrixView } from "../gemm.js";
import { versionOf } from "../../version.js";
import { heapOf } from "./engine.js";
import type { WasmInstance } from "./engine.js";
import { releaseResident, takeResident } from "./resident-regions.js";

/** Frees the resident region of a PreparedMatrix nobody holds any more. */
const collected = new FinalizationRegistry<{ at: number }>((region) => {
  if (region.at >= 0) releaseResident(region.at);
});

/**
 * A GEMM operand kept in the calling thread's module memory between products (a compiled graph's
 * weight, through its node's reused ctx; see Addmm): the next product reads it there instead of
 * copying it in again, as long as the matrix's buffer, offset, layout and version are those it was
 * copied for. An optimizer step bumps the version, so a trained weight is copied in afresh; the
 * region is given back when the PreparedMatrix is released or collected.
 */
export class PreparedMatrix {
  private source: Float32Array | null = null;
  private offset = -1;
  private rows = -1;
  private cols = -1;
  private ld = -1;
  private trans = false;
  private version = -1;
  /** Byte offset of the region from the resident start (-1: none), shared with the finalizer. */
  private readonly region = { at: -1, bytes: 0 };

  constructor() {
    collected.register(this, this.region, this);
  }

  /**
   * The byte address in `t`'s memory of op(`m`) (`rows`×`cols`, `m` read transposed when `m.trans`)
   * stored row-major without gaps, copied in now unless it already is; null when the memory cannot
   * grow to hold it. A transposed matrix is kept untransposed: the GEMM then reads a small product's
   * B in place instead of packing it on every call.
   */
  address(t: WasmInstance<unknown>, m: MatrixView, rows: number, cols: number): number | null {
    const start = t.residentStart;
    if (start === undefined || !(m.data instanceof Float32Array)) return null;
    const version = versionOf(m.data);
    if (
      this.region.at >= 0 && m.data === this.source && m.offset === this.offset && m.ld === this.ld &&
      m.trans === this.trans && rows === this.rows && cols === this.cols && version === this.version
    ) {
      return start + this.region.at;
    }
    const bytes = rows * cols * 4;
    if (this.region.at < 0 || this.region.bytes < bytes) {
      this.release();
      this.region.at = takeResident(bytes);
      this.region.bytes = bytes;
    }
    const heap = heapOf(t, start + this.region.at + bytes);
    if (heap === null) {
      this.release();
      return null;
    }
    const base = (start + this.region.at) >> 2;
    const src = m.data;
    if (m.trans) {
      for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) heap[base + r * cols + q] = src[m.offset + q * m.ld + r]!;
    } else if (m.ld === cols) {
      heap.set(src.subarray(m.offset, m.offset + rows * cols), base);
    } else {
      for (let r = 0; r < rows; r++) heap.set(src.subarray(m.offset + r * m.ld, m.offset + r * m.ld + cols), base + r * cols);
    }
    this.source = src;
    this.offset = m.offset;
    this.ld = m.ld;
    this.trans = m.trans;
    this.rows = rows;
    this.cols = cols;
    this.version = version;
    return start + this.region.at;
  }

  /** Gives the region back (the next product copies the matrix in again). */
  release(): void {
    if (this.region.at >= 0) releaseResident(this.region.at);
    this.region.at = -1;
    this.region.bytes = 0;
    this.source = null;
  }
}
