/** One buffer a compiled graph needs: its size and the steps between which it must hold its value. */
export interface BufferRequest {
  readonly bytes: number;
  /** The step that writes it. */
  readonly first: number;
  /** The last step that reads it (inclusive); Infinity for a buffer that must outlive the run (a graph output). */
  readonly last: number;
}

/** Where each request lives in one arena: `offsets[i]` bytes into it for request i. */
export interface BufferPlan {
  readonly offsets: readonly number[];
  readonly arenaBytes: number;
}

/** Byte alignment of every buffer: a float64 array needs 8; 64 keeps SIMD loads within cache lines. */
export const PLAN_ALIGNMENT = 64;

/**
 * Places every buffer in one arena so that two buffers share bytes only if their lifetimes
 * [first, last] do not overlap: a buffer's bytes are reused as soon as its last reader has run.
 * Greedy by size (TensorFlow Lite's arena planner): the largest buffer first, each at the lowest
 * offset that no overlapping, already placed buffer occupies.
 */
export function planBuffers(requests: readonly BufferRequest[], alignment: number = PLAN_ALIGNMENT): BufferPlan {
  const order = requests.map((_, i) => i).sort((a, b) => requests[b]!.bytes - requests[a]!.bytes || requests[a]!.first - requests[b]!.first);
  const offsets: number[] = new Array<number>(requests.length).fill(0);
  const placed: number[] = [];
  let arenaBytes = 0;
  for (const i of order) {
    const r = requests[i]!;
    const size = align(r.bytes, alignment);
    const busy = placed
      .filter((j) => overlaps(r, requests[j]!))
      .map((j) => [offsets[j]!, offsets[j]! + align(requests[j]!.bytes, alignment)] as const)
      .sort((a, b) => a[0] - b[0]);
    let offset = 0;
    for (const [start, end] of busy) {
      if (offset + size <= start) break;
      offset = Math.max(offset, end);
    }
    offsets[i] = offset;
    placed.push(i);
    arenaBytes = Math.max(arenaBytes, offset + size);
  }
  return { offsets, arenaBytes };
}

function overlaps(a: BufferRequest, b: BufferRequest): boolean {
  return a.first <= b.last && b.first <= a.last;
}

function align(bytes: number, alignment: number): number {
  return Math.ceil(bytes / alignment) * alignment;
}
