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
  private version = -1;
  /** Byte offset of the region from the resident start (-1: none), shared with the finalizer. */
  private readonly region = { at: -1, bytes: 0 };

  constructor() {
    collected.register(this, this.region, this);
  }

  /**
   * The byte address in `t`'s memory of the stored `rows`×`cols` matrix `m` (leading dimension `ld`
   * there), copied in now unless it already is; null when the memory cannot grow to hold it.
   */
  address(t: WasmInstance<unknown>, m: MatrixView, rows: number, cols: number, ld: number): number | null {
    const start = t.residentStart;
    if (start === undefined || !(m.data instanceof Float32Array)) return null;
    const version = versionOf(m.data);
    if (
      this.region.at >= 0 && m.data === this.source && m.offset === this.offset && rows === this.rows &&
      cols === this.cols && ld === this.ld && version === this.version
    ) {
      return start + this.region.at;
    }
    const elements = rows <= 1 ? cols : (rows - 1) * ld + cols;
    if (this.region.at < 0 || this.region.bytes < elements * 4) {
      this.release();
      this.region.at = takeResident(elements * 4);
      this.region.bytes = elements * 4;
    }
    const heap = heapOf(t, start + this.region.at + elements * 4);
    if (heap === null) {
      this.release();
      return null;
    }
    const base = (start + this.region.at) >> 2;
    if (ld === m.ld || rows <= 1) heap.set(m.data.subarray(m.offset, m.offset + elements), base);
    else for (let r = 0; r < rows; r++) heap.set(m.data.subarray(m.offset + r * m.ld, m.offset + r * m.ld + cols), base + r * ld);
    this.source = m.data;
    this.offset = m.offset;
    this.rows = rows;
    this.cols = cols;
    this.ld = ld;
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
