import type { FloatArray } from "@pico/core";
import { ACCUMULATE, type ControlLayout, GRADIENT_PRESENT, OWN_GRADIENT, type StateEntry } from "./protocol.js";
import { entryView } from "./shared-state.js";
import { shardBounds } from "./shards.js";

/**
 * The shards' gradients summed as a reduce-scatter: every replica adds up its own contiguous slice of
 * every parameter's gradient (the slices of shardBounds over the parameter's elements) from the gradient
 * blocks in shared memory into the sum's block, so the sum takes 1/replicas of the time it took the
 * calling thread alone. Each element is still the same chain of additions in replica order (one rounding
 * per addition in float32), then added to the `.grad` held before the step, so the bits do not depend on
 * who summed which slice.
 */
export class GradientSum {
  /** Per replica, per parameter: its shard's gradient block. */
  private readonly blocks: FloatArray[][];
  /** Per parameter: the sum's block, which `.grad` views after the step. */
  readonly sums: FloatArray[];

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
  }

  /** Replica `replica`'s gradient block of parameter `i`. */
  block(replica: number, i: number): FloatArray {
    return this.blocks[replica]![i]!;
  }

  /** Where replica `replica`'s slice of an `n`-element parameter starts and ends. */
  slice(n: number, replica: number): [number, number] {
    const bounds = shardBounds(n, this.layout.replicas);
    return [bounds[replica]!, bounds[replica + 1]!];
  }

  /**
   * Sums replica `replica`'s slice of every parameter. `own` gives the calling thread's gradients where it
   * passes its own arrays instead of block 0 (replica 0 reads its slice from where backward left it).
   */
  sumSlices(replica: number, own: readonly (FloatArray | null)[] | null = null): void {
    const c = this.control;
    const sources: FloatArray[] = [];
    for (let i = 0; i < this.sums.length; i++) {
      const flags = c[this.layout.reduceFlags + i]!;
      sources.length = 0;
      if ((flags & OWN_GRADIENT) !== 0) sources.push(own?.[i] ?? this.blocks[0]![i]!);
      for (let r = 1; r < this.layout.replicas; r++) {
        if (c[this.layout.worker(r) + GRADIENT_PRESENT + i] === 1) sources.push(this.blocks[r]![i]!);
      }
      if (sources.length === 0) continue;
      const target = this.sums[i]!;
      const [from, to] = this.slice(target.length, replica);
      sumInto(target, sources, (flags & ACCUMULATE) !== 0, from, to);
    }
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
