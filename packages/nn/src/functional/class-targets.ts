import { ArgumentError, ShapeError, formatShape, kernels, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

/** The layout of class scores [N, C, d1, ...] (or unbatched [C]) as N × C × S, S = d1 · d2 · .... */
export interface ClassLayout {
  n: number;
  c: number;
  s: number;
}

/**
 * Checks that `target` holds one class index per position of `input` without its class axis; returns
 * the layout (the indices themselves are read by `classIndices`, inside the loss's Function, so that a
 * traced or compiled loss reads each call's targets).
 */
export function classTargets(op: string, input: Tensor, target: Tensor, ignoreIndex: number): ClassLayout {
  checkTensor(op, "input", input);
  checkTensor(op, "target", target);
  if (input.ndim === 0) throw new ShapeError(`${op}: input must be [N, C, ...] or [C] class scores, but got a 0-d tensor`);
  if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(`${op}: ignoreIndex must be an integer, but got ${ignoreIndex}`);
  const unbatched = input.ndim === 1;
  const c = input.shape[unbatched ? 0 : 1]!;
  if (!holdsOnePerPosition(input.shape, target.shape)) {
    const expected = unbatched ? [] : [input.shape[0]!, ...input.shape.slice(2)];
    throw new ShapeError(
      `${op}: target must hold one class index per sample, shape ${formatShape(expected)} for input ${formatShape(input.shape)} ` +
        `(the input's shape without its class axis ${unbatched ? 0 : 1}), but got ${formatShape(target.shape)}`,
    );
  }
  let s = 1;
  for (let d = 2; d < input.ndim; d++) s *= input.shape[d]!;
  return { n: unbatched ? 1 : input.shape[0]!, c, s };
}

/** Whether `targetShape` is `scoresShape` without its class axis (axis 1, or 0 when unbatched). */
function holdsOnePerPosition(scoresShape: readonly number[], targetShape: readonly number[]): boolean {
  if (scoresShape.length === 1) return targetShape.length === 0;
  if (targetShape.length !== scoresShape.length - 1 || targetShape[0] !== scoresShape[0]) return false;
  for (let d = 2; d < scoresShape.length; d++) if (targetShape[d - 1] !== scoresShape[d]) return false;
  return true;
}

/**
 * The class indices `target` holds, packed in row-major order, each checked to be an integer in
 * [0, C) or equal to ignoreIndex.
 */
export function classIndices(op: string, target: NDArray, c: number, ignoreIndex: number): Int32Array {
  const values = kernels.packed(target).data;
  const indices = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== ignoreIndex && !(Number.isInteger(v) && v >= 0 && v < c)) {
      throw new ArgumentError(
        `${op}: target must hold integer class indices in [0, ${c - 1}] (or ignoreIndex ${ignoreIndex}), but got ${v} at position ${i}`,
      );
    }
    indices[i] = v;
  }
  return indices;
}

/** Class weights as a packed Float64Array of length C (all ones when none are given). */
export function classWeights(op: string, weight: Tensor | null | undefined, c: number): Float64Array | null {
  if (weight === null || weight === undefined) return null;
  checkTensor(op, "weight", weight);
  if (weight.ndim !== 1 || weight.shape[0] !== c) {
    throw new ShapeError(`${op}: weight must have shape [${c}] (one weight per class), but got ${formatShape(weight.shape)}`);
  }
  if (weight.requiresGrad) throw new ArgumentError(`${op}: weight (the class weights) must not require grad; pass weight.detach()`);
  return Float64Array.from(kernels.packed(weight.data).data);
}
