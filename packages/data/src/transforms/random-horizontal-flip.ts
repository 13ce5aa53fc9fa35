import { ArgumentError, Generator, defaultGenerator } from "@pico/core";
import { chw } from "./image-size.js";
import type { Transform } from "./transform.js";

/**
 * torchvision's RandomHorizontalFlip: mirrors the [C, H, W] sample left to right with probability p
 * (default 0.5), one number drawn per sample. (Not for digits, whose mirror images are other glyphs.)
 */
export function randomHorizontalFlip(p = 0.5, options: { generator?: Generator } = {}): Transform {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new ArgumentError(`randomHorizontalFlip: p must be a probability in [0, 1], but got ${String(p)}`);
  const generator = options.generator ?? defaultGenerator;
  return (data, offset, shape) => {
    const [c, h, w] = chw("randomHorizontalFlip", shape);
    if (!(generator.random() < p)) return;
    for (let row = 0; row < c * h; row++) {
      const start = offset + row * w;
      for (let a = start, b = start + w - 1; a < b; a++, b--) {
        const t = data[a]!;
        data[a] = data[b]!;
        data[b] = t;
      }
    }
  };
}
