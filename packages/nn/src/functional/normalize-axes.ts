import type { Tensor } from "@pico/core";

/** (x − mean) / sqrt(var + eps) over `axes`, with the biased variance: the core of LayerNorm, GroupNorm and InstanceNorm. */
export function normalizeAxes(x: Tensor, axes: readonly number[], eps: number): Tensor {
  const centered = x.sub(x.mean(axes, true));
  return centered.div(centered.square().mean(axes, true).add(eps).sqrt());
}
