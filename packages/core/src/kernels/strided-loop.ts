/**
 * Walks several same-shaped strided views together, one innermost row at a time.
 * Adjacent dimensions that every operand lays out contiguously are merged first,
 * so a contiguous operation becomes a single long row.
 */
export interface RowPlan {
  /** Merged shape; the last entry is the row length. */
  shape: number[];
  /** strides[k][d]: stride of operand k along merged dimension d. */
  strides: number[][];
}

export function planRows(shape: readonly number[], strides: ReadonlyArray<readonly number[]>): RowPlan {
  const dims: number[] = [];
  // Pushed, not mapped: a map's result changes elements kind once the caller is optimized (a deoptimization).
  const merged: number[][] = [];
  for (let k = 0; k < strides.length; k++) merged.push([]);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => merged[k]![last] === s[d]! * size)) {
      dims[last] = dims[last]! * size;
      strides.forEach((s, k) => (merged[k]![last] = s[d]!));
    } else {
      dims.push(size);
      strides.forEach((s, k) => merged[k]!.push(s[d]!));
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    merged.forEach((m) => m.push(0));
  }
  return { shape: dims, strides: merged };
}

/**
 * Calls `row(offsets, rowLength, rowStrides)` for every innermost row, in row-major order.
 * `offsets` is reused between calls: read it, do not keep it.
 */
export function forEachRow(
  plan: RowPlan,
  starts: readonly number[],
  row: (offsets: Int32Array | number[], n: number, rowStrides: readonly number[]) => void,
): void {
  const { shape, strides } = plan;
  const nd = shape.length;
  const k = strides.length;
  const n = shape[nd - 1]!;
  const rowStrides: number[] = [];
  for (const s of strides) rowStrides.push(s[nd - 1]!);
  const offsets: number[] = [];
  for (const s of starts) offsets.push(s);
  if (shape.some((d) => d === 0)) return;
  const index = new Array<number>(nd).fill(0);
  for (;;) {
    row(offsets, n, rowStrides);
    let d = nd - 2;
    for (; d >= 0; d--) {
      index[d]! += 1;
      for (let j = 0; j < k; j++) offsets[j]! += strides[j]![d]!;
      if (index[d]! < shape[d]!) break;
      for (let j = 0; j < k; j++) offsets[j]! -= strides[j]![d]! * shape[d]!;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

/** Strides for reading `shape` as if broadcast to `target` (0 along broadcast dimensions). */
export function broadcastStrides(shape: readonly number[], stride: readonly number[], target: readonly number[]): number[] {
  const out = new Array<number>(target.length).fill(0);
  const shift = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[i + shift] = shape[i] === 1 ? 0 : stride[i]!;
  return out;
}
