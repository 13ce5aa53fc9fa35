import { type Tensor, formatShape, kernels, tensor } from "@pico/core";
import type { AnyModule } from "../module.js";
import { type StateEntry, align8, bytesOf, dtypeCode, viewOf } from "./protocol.js";

/** A model's parameters, then its buffers, each with its name and its tensor. */
export interface NamedState {
  parameters: [string, Tensor][];
  buffers: [string, Tensor][];
}

export function namedState(model: AnyModule): NamedState {
  return { parameters: model.namedParameters(), buffers: model.namedBuffers() };
}

/** Lays the parameters out first (they are also the layout of a gradient block), then the buffers. */
export function layoutState(state: NamedState): { entries: StateEntry[]; gradientBytes: number; bytes: number } {
  const entries: StateEntry[] = [];
  let bytes = 0;
  const add = (kind: StateEntry["kind"], name: string, t: Tensor): void => {
    entries.push({ kind, name, shape: [...t.shape], dtype: t.dtype, byteOffset: bytes });
    bytes += align8(t.size * bytesOf(dtypeCode(t.dtype)));
  };
  for (const [name, p] of state.parameters) add("parameter", name, p);
  const gradientBytes = bytes;
  for (const [name, b] of state.buffers) add("buffer", name, b);
  return { entries, gradientBytes, bytes };
}

/** The elements of `entry` in `buffer` (at `base` bytes), as the typed array of its dtype. */
export function entryView(buffer: SharedArrayBuffer, entry: StateEntry, base = 0): Float32Array | Float64Array {
  return viewOf(buffer, dtypeCode(entry.dtype), base + entry.byteOffset, entry.shape.reduce((a, b) => a * b, 1));
}

/** Points `t` at `view` (shaped as `t`), copying its current values there first when `copyValues`. */
export function adopt(t: Tensor, view: Float32Array | Float64Array, copyValues: boolean): void {
  if (copyValues) view.set(kernels.packed(t.data).data);
  t.data = tensor(view, { shape: t.shape }).data;
}

/** True when `t` still views `view` (nobody replaced its data since it was adopted). */
export function viewsShared(t: Tensor, view: Float32Array | Float64Array): boolean {
  return t.data.data === view && kernels.isPacked(t.data);
}

/** A line naming `entry` as `fc1.weight [120, 256] float32`. */
export function describeEntry(entry: { name: string; shape: readonly number[]; dtype: string }): string {
  return `${entry.name} ${formatShape(entry.shape)} ${entry.dtype}`;
}

/**
 * The first difference between the calling thread's state layout and a replica's own model, in words,
 * or null when they agree: the same parameters and buffers, by name, shape and dtype, in the same order.
 */
export function compareState(expected: readonly StateEntry[], state: NamedState): string | null {
  for (const kind of ["parameter", "buffer"] as const) {
    const want = expected.filter((e) => e.kind === kind);
    const have = (kind === "parameter" ? state.parameters : state.buffers).map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
    for (let i = 0; i < Math.max(want.length, have.length); i++) {
      const w = want[i];
      const h = have[i];
      if (w === undefined) return `it has ${have.length} ${kind}s where the calling thread has ${want.length}: ${kind} ${i} is ${describeEntry(h!)} in the replica only`;
      if (h === undefined) return `it has ${have.length} ${kind}s where the calling thread has ${want.length}: ${kind} ${i}, ${describeEntry(w)}, is missing`;
      if (w.name !== h.name || formatShape(w.shape) !== formatShape(h.shape) || w.dtype !== h.dtype) {
        return `${kind} ${i} is ${describeEntry(w)} on the calling thread but ${describeEntry(h)} in the replica`;
      }
    }
  }
  return null;
}
