import type { kernels } from "@pico/core";

/**
 * Everything a 2-D convolution or pooling kernel needs to know about its shapes: the geometry
 * @pico/core's WebAssembly convolution takes, so one object serves both kernel sets.
 */
export type Conv2dGeometry = kernels.Conv2dWasmGeometry;

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
