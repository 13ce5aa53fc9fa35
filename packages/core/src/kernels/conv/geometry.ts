/**
 * Shapes of one 2-D convolution (NCHW, weight [outC, C/groups, kH, kW]), as every convolution kernel
 * takes them. Fields must be consistent (out sizes as PyTorch computes them, channels divisible by
 * groups): the kernels do not check; @pico/nn's conv2dGeometry builds it from validated arguments.
 */
export interface Conv2dGeometry {
  batch: number;
  inChannels: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
  groups: number;
  kernelHeight: number;
  kernelWidth: number;
  strideHeight: number;
  strideWidth: number;
  padHeight: number;
  padWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  outHeight: number;
  outWidth: number;
}

/** The fields in the order the WebAssembly kernels read them (a block of 16 i32). */
export const CONV2D_GEOMETRY_FIELDS = [
  "batch", "inChannels", "inHeight", "inWidth", "outChannels", "groups", "kernelHeight", "kernelWidth",
  "strideHeight", "strideWidth", "padHeight", "padWidth", "dilationHeight", "dilationWidth", "outHeight", "outWidth",
] as const satisfies readonly (keyof Conv2dGeometry)[];

/** floor((size + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1, as PyTorch (may be <= 0 for a too-small input). */
export function outputSize(size: number, kernel: number, stride: number, padding: number, dilation: number): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** The first output index o (at most outSize) whose input index o·stride + shift is >= 0. */
export function validStart(outSize: number, stride: number, shift: number): number {
  return shift >= 0 ? 0 : Math.min(outSize, Math.ceil(-shift / stride));
}

/** One past the last output index o whose input index o·stride + shift is < size, never below `start`. */
export function validEnd(outSize: number, size: number, stride: number, shift: number, start: number): number {
  const end = size - 1 - shift < 0 ? 0 : Math.min(outSize, Math.floor((size - 1 - shift) / stride) + 1);
  return end < start ? start : end;
}

/** A 1×1 kernel with stride 1 and no padding reads the input planes as its column matrix, without im2col. */
export function isPointwise(g: Conv2dGeometry): boolean {
  return g.kernelHeight === 1 && g.kernelWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 && g.padHeight === 0 && g.padWidth === 0;
}
