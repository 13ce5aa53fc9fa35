import type { FloatArray } from "@pico/core";
import { ACCUMULATE, type ControlLayout, GRADIENT_PRESENT, OWN_GRADIENT, type StateEntry } from "./protocol.js";
import { entryView } from "./shared-state.js";
import { shardBounds } from "./shards.js";

/**
 * The shards' gradients summed as a reduce-scatter: every replica adds up its own contiguous slice of
 * every parameter's gradient (the slices of shardBounds over the parameter's elements) into the sum's
 * block, so the sum takes 1/replicas of the time it took the calling thread alone. Before that, within
 * the same step command, each replica copies the other replicas' slices of its gradients into its own
 * block (`publish`); its own slice it reads where backward left it. Each element is still the same chain
 * of additions in replica order (one rounding per addition in float32), then added to the `.grad` held
 * before the step, so the bits do not depend on who summed which slice.
 */
export class GradientSum {
  /** Per replica, per parameter: its shard's gradient block. */
  private readonly blocks: FloatArray[][];
  /** Per parameter: the sum's block, which `.grad` views after the step. */
  readonly sums: FloatArray[];
  /** Per parameter: shardBounds over its elements (replica r's slice is [bounds[r], bounds[r + 1])), made once. */
  private readonly bounds: number[][];
  /** sumSlices' sources, reused across parameters and steps. */
  private readonly sources: FloatArray[] = [];

  constructor(
    private readonly control: Int32Array,
    private readonly layout: ControlLayout,
    gradients: SharedArrayBuffer,
    entries: readonly StateEntry[],
    gradientBytes: number,
  ) {
    const parameters = entries.filter((e) => e.kind === "parameter");
    this.blocks = [];
    for (let r = 0; r < layout.replicas; r++) this.blocks.push(parameters.map((e) => entryView(gradients, e, r * gradientBytes)));
    this.sums = parameters.map((e) => entryView(gradients, e, layout.replicas * gradientBytes));
    this.bounds = this.sums.map((s) => shardBounds(s.length, layout.replicas));
  }

  /** Replica `replica`'s gradient block of parameter `i`. */
  block(replica: number, i: number): FloatArray {
    return this.blocks[replica]![i]!;
  }

  /**
   * Copies every slice of `values` (replica `replica`'s gradient of parameter `i`) but its own into its
   * block, where the other replicas sum them.
   */
  publish(replica: number, i: number, values: FloatArray): void {
    const bounds = this.bounds[i]!;
    const block = this.blocks[replica]![i]!;
    const from = bounds[replica]!;
    const to = bounds[replica + 1]!;
    if (from > 0) block.set(values.subarray(0, from));
    if (to < values.length) block.set(values.subarray(to), to);
  }

  /**
   * Sums replica `replica`'s slice of every parameter, with `local` as its own gradients (null where its
   * shard has none; the others' come from their blocks), as the reduce flags (the calling thread's: its
   * gradient present, accumulate) and the workers' GRADIENT_PRESENT flags say.
   */
  sumSlices(replica: number, local: readonly (FloatArray | null)[]): void {
    const c = this.control;
    const sources = this.sources;
    for (let i = 0; i < this.sums.length; i++) {
      const flags = c[this.layout.reduceFlags + i]!;
      sources.length = 0;
      if ((flags & OWN_GRADIENT) !== 0) sources.push(replica === 0 ? local[i]! : this.blocks[0]![i]!);
      for (let r = 1; r < this.layout.replicas; r++) {
        if (c[this.layout.worker(r) + GRADIENT_PRESENT + i] === 1) sources.push(r === replica ? local[i]! : this.blocks[r]![i]!);
      }
      if (sources.length === 0) continue;
      const bounds = this.bounds[i]!;
      sumInto(this.sums[i]!, sources, (flags & ACCUMULATE) !== 0, bounds[replica]!, bounds[replica + 1]!);
    }
    sources.length = 0;
  }
}

/**
 * `target[k] = (target[k] +) ((s0[k] + s1[k]) + s2[k] ...)` for k in [from, to): the additions in the
 * order the sources come (replica order), each rounded to the target's precision as a Float32Array
 * store would round it, then added to what the target held when `accumulate`.
 */
export function sumInto(target: FloatArray, sources: readonly FloatArray[], accumulate: boolean, from: number, to: number): void {
  const first = sources[0]!;
  if (target instanceof Float32Array && sources.length === 2 && !accumulate) {
    sumPair(target, first as Float32Array, sources[1] as Float32Array, from, to);
    return;
  }
  const round = target instanceof Float32Array ? Math.fround : (x: number): number => x;
  for (let k = from; k < to; k++) {
    let sum = first[k]!;
    for (let s = 1; s < sources.length; s++) sum = round(sum + sources[s]![k]!);
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
