/** Everything a 2-D convolution or pooling kernel needs to know about its shapes. */
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
