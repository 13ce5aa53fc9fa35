import type { Tensor } from "@pico/core";
import * as ort from "onnxruntime-node";

/** Runs exported bytes in onnxruntime-node on `inputs` (by graph input name); the first output's values and shape. */
export async function runOrt(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<{ data: Float32Array | Float64Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype === "float64" ? "float64" : "float32", t.toTypedArray(), t.shape);
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]!]!;
  await session.release();
  return { data: out.data as Float32Array, dims: out.dims };
}

/** The largest |a − b| / max(1, |b|). */
export function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}
