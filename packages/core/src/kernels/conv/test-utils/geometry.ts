import { outputSize, type Conv2dGeometry } from "../geometry.js";

type Pair = number | readonly [number, number];
const pairOf = (v: Pair | undefined, fallback: number): [number, number] => (v === undefined ? [fallback, fallback] : typeof v === "number" ? [v, v] : [v[0], v[1]]);

/** The geometry of x [N, C, H, W] convolved with w [outC, C/groups, kH, kW] (arguments assumed valid, as tests pass them). */
export function geometryOf(
  x: readonly number[],
  w: readonly number[],
  options: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {},
): Conv2dGeometry {
  const [sH, sW] = pairOf(options.stride, 1);
  const [pH, pW] = pairOf(options.padding, 0);
  const [dH, dW] = pairOf(options.dilation, 1);
  const [batch, inChannels, inHeight, inWidth] = x as [number, number, number, number];
  const [outChannels, , kernelHeight, kernelWidth] = w as [number, number, number, number];
  return {
    batch, inChannels, inHeight, inWidth, outChannels, groups: options.groups ?? 1, kernelHeight, kernelWidth,
    strideHeight: sH, strideWidth: sW, padHeight: pH, padWidth: pW, dilationHeight: dH, dilationWidth: dW,
    outHeight: outputSize(inHeight, kernelHeight, sH, pH, dH), outWidth: outputSize(inWidth, kernelWidth, sW, pW, dW),
  };
}
