import type { FloatArray } from "@pico/core";
import { ACCUMULATE, type ControlLayout, GRADIENT_PRESENT, type StateEntry } from "./protocol.js";
import { entryView } from "./shared-state.js";
import { shardBounds } from "./shards.js";

/**
 * The chunks' gradients summed as a reduce-scatter: every replica adds up its own contiguous slice of
 * every parameter's gradient (the slices of shardBounds over the parameter's elements) into the sum's
 * block, so the sum takes 1/replicas of the time it took the calling thread alone. Whoever ran a chunk
 * copied its gradients into the chunk's block (`publish`) first. Each element is the same chain of
 * additions in chunk order (one rounding per addition in float32), then added to the `.grad` held before
 * the step, so the bits depend on the chunks' bounds only, not on which replica ran or summed what.
 *
 * The gradient buffer holds the sum's block first, then one block per chunk (chunk k's at
 * (k + 1) · gradientBytes); it grows with the most chunks a step has had.
 */
export class GradientSum {
  /** Per chunk (made when first used), per parameter: the chunk's gradient block. */
  private readonly blocks: FloatArray[][] = [];
  /** Per parameter: the sum's block, which `.grad` views after the step. */
  readonly sums: FloatArray[];
  /** Per parameter: shardBounds over its elements (replica r's slice is [bounds[r], bounds[r + 1])), made once. */
  private readonly bounds: number[][];
  /** sumSlices' sources, reused across parameters and steps: never shortened (a shortened array takes a new backing store when it grows again), its first `count` entries the sources. */
  private readonly sources: FloatArray[] = [];
  private readonly parameters: StateEntry[];

  constructor(
    private readonly control: Int32Array,
    private readonly layout: ControlLayout,
    private readonly gradients: SharedArrayBuffer,
    entries: readonly StateEntry[],
    private readonly gradientBytes: number,
  ) {
    this.parameters = entries.filter((e) => e.kind === "parameter");
    this.sums = this.parameters.map((e) => entryView(gradients, e));
    this.bounds = this.sums.map((s) => shardBounds(s.length, layout.replicas));
  }

  /** Bytes the gradient buffer needs for `chunks` chunks. */
  bytesFor(chunks: number): number {
    return (chunks + 1) * this.gradientBytes;
  }

  /** Chunk `k`'s gradient block of parameter `i` (the buffer must have grown to hold it: bytesFor). */
  block(k: number, i: number): FloatArray {
    let blocks = this.blocks[k];
    if (blocks === undefined) {
      for (let j = this.blocks.length; j <= k; j++) this.blocks.push(this.parameters.map((e) => entryView(this.gradients, e, (j + 1) * this.gradientBytes)));
      blocks = this.blocks[k]!;
    }
    return blocks[i]!;
  }

  /**
   * Copies `values` (chunk `k`'s gradient of parameter `i`) into the chunk's block: all of it, or, from
   * the replica `keeper` that ran it as its last chunk of the step, all but its own slice (it sums that
   * from `values` itself, see sumSlices).
   */
  publish(k: number, i: number, values: FloatArray, keeper = -1): void {
    const block = this.block(k, i);
    if (keeper === -1) {
      block.set(values);
      return;
    }
    const bounds = this.bounds[i]!;
    const from = bounds[keeper]!;
    const to = bounds[keeper + 1]!;
    if (from > 0) block.set(values.subarray(0, from));
    if (to < values.length) block.set(values.subarray(to), to);
  }

  /**
   * Sums replica `replica`'s slice of every parameter over the `chunks` chunks' blocks, in chunk order,
   * where each chunk's GRADIENT_PRESENT flag says it has one, adding to the sum's block where the
   * calling thread's reduce flags say ACCUMULATE. Chunk `kept` (this replica's last, published without
   * its slice) comes from `own`, its gradients.
   */
  sumSlices(replica: number, chunks: number, kept: number, own: readonly (FloatArray | null)[]): void {
    const c = this.control;
    const sources = this.sources;
    for (let i = 0; i < this.sums.length; i++) {
      let count = 0;
      for (let k = 0; k < chunks; k++) if (c[this.layout.chunk(k) + GRADIENT_PRESENT + i] === 1) sources[count++] = k === kept ? own[i]! : this.block(k, i);
      if (count === 0) continue;
      const bounds = this.bounds[i]!;
      sumInto(this.sums[i]!, sources, (c[this.layout.reduceFlags + i]! & ACCUMULATE) !== 0, bounds[replica]!, bounds[replica + 1]!, count);
    }
  }
}

/**
 * `target[k] = (target[k] +) ((s0[k] + s1[k]) + s2[k] ...)` for k in [from, to), over the first `count`
 * sources: the additions in the order the sources come (replica order), each rounded to the target's
 * precision as a Float32Array store would round it, then added to what the target held when `accumulate`.
 */
export function sumInto(target: FloatArray, sources: readonly FloatArray[], accumulate: boolean, from: number, to: number, count = sources.length): void {
  const first = sources[0]!;
  if (target instanceof Float32Array && count >= 2 && !accumulate) {
    // Each store rounds to float32: the same bits as the rounded chain below.
    sumPair(target, first as Float32Array, sources[1] as Float32Array, from, to);
    for (let s = 2; s < count; s++) sumPair(target, target, sources[s] as Float32Array, from, to);
    return;
  }
  const round = target instanceof Float32Array ? Math.fround : (x: number): number => x;
  for (let k = from; k < to; k++) {
    let sum = first[k]!;
    for (let s = 1; s < count; s++) sum = round(sum + sources[s]![k]!);
    target[k] = accumulate ? target[k]! + sum : sum;
  }
}

/** `t[k] = a[k] + b[k]` over [from, to), four elements an iteration (V8 does not unroll; the two-replica case of every step). */
function sumPair(t: Float32Array, a: Float32Array, b: Float32Array, from: number, to: number): void {
  let k = from;
  // The odd elements first: as a tail loop after the unrolled one, V8 compiled it on-stack without type
  // feedback and deoptimized there again and again (see the former addFloat32 of data-parallel.ts).
  for (; k < from + ((to - from) % 4); k++) t[k] = a[k]! + b[k]!;
  for (; k < to; k += 4) {
    t[k] = a[k]! + b[k]!;
    t[k + 1] = a[k + 1]! + b[k + 1]!;
    t[k + 2] = a[k + 2]! + b[k + 2]!;
    t[k + 3] = a[k + 3]! + b[k + 3]!;
  }
}
