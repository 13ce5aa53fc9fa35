import { chw, copyWindow, imageSize } from "./image-size.js";
import type { Transform } from "./transform.js";

/**
 * torchvision's CenterCrop: the window of `size` ([height, width], or a square) at the centre of the
 * [C, H, W] sample, its top at round((H − height) / 2) and its left at round((W − width) / 2); a window
 * larger than the image is padded with zeros, as torchvision does. Output shape [C, size[0], size[1]].
 */
export function centerCrop(size: number | readonly [number, number]): Transform {
  const op = "centerCrop";
  const [outH, outW] = imageSize(op, "size", size);
  let scratch = new Float32Array(0);
  const transform: Transform = (data, offset, shape) => {
    const [c, h, w] = chw(op, shape);
    const n = c * h * w;
    if (scratch.length < n) scratch = new Float32Array(n);
    scratch.set(data.subarray(offset, offset + n));
    // Python's round() of a half is to even; (H − height) / 2 is a whole number or a half.
    copyWindow(scratch, c, h, w, roundHalfEven((h - outH) / 2), roundHalfEven((w - outW) / 2), outH, outW, data, offset, 0);
  };
  transform.outputShape = (shape) => [chw(op, shape)[0], outH, outW];
  return transform;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
