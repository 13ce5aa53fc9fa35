import { ArgumentError, ShapeError, formatShape } from "@pico/core";

/** A size [height, width] from a number (square) or a pair, each a positive integer. */
export function imageSize(op: string, name: string, size: unknown): [number, number] {
  const pair = typeof size === "number" ? [size, size] : size;
  if (!Array.isArray(pair) || pair.length !== 2 || pair.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ArgumentError(`${op}: ${name} must be a positive integer or a [height, width] pair of them, but got ${JSON.stringify(size)}`);
  }
  return [pair[0] as number, pair[1] as number];
}

/** The [C, H, W] of a sample, or an error naming the transform. */
export function chw(op: string, shape: readonly number[]): [number, number, number] {
  if (shape.length !== 3) throw new ShapeError(`${op}: expected a sample of shape [C, H, W], but got ${formatShape(shape)}`);
  return shape as [number, number, number];
}

/**
 * Copies the window of `src` ([c, h, w] from index 0) whose top-left corner is (top, left) and whose size is
 * outH × outW into `dst` at `offset`; pixels outside the source take `fill`.
 */
export function copyWindow(src: Float32Array, c: number, h: number, w: number, top: number, left: number, outH: number, outW: number, dst: Float32Array, offset: number, fill: number): void {
  for (let ch = 0; ch < c; ch++) {
    const plane = ch * h * w;
    for (let y = 0; y < outH; y++) {
      const sy = top + y;
      const row = offset + (ch * outH + y) * outW;
      if (sy < 0 || sy >= h) {
        dst.fill(fill, row, row + outW);
        continue;
      }
      for (let x = 0; x < outW; x++) {
        const sx = left + x;
        dst[row + x] = sx >= 0 && sx < w ? src[plane + sy * w + sx]! : fill;
      }
    }
  }
}
