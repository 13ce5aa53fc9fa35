import type { Tensor } from "@pico/core";
import { checkInterpolateOptions, interpolate, type InterpolateOptions } from "../functional/interpolate.js";
import { Module } from "../module.js";

/**
 * torch.nn.Upsample for images: nearest (default) or bilinear (with `alignCorners`) resampling to `size`
 * or by `scaleFactor`. Shape: [N, C, H, W] → [N, C, Hout, Wout], Hout = size[0] or floor(H · scaleFactor[0]).
 */
export class Upsample extends Module {
  static override keepsNoReferences = true;
  readonly options: InterpolateOptions;

  constructor(options: InterpolateOptions) {
    super();
    checkInterpolateOptions("Upsample", options);
    this.options = { ...options };
  }

  forward(input: Tensor): Tensor {
    return interpolate(input, this.options);
  }

  override extraRepr(): string {
    const o = this.options;
    return [o.size !== undefined ? `size=${JSON.stringify(o.size)}` : `scaleFactor=${JSON.stringify(o.scaleFactor)}`, `mode=${o.mode ?? "nearest"}`, ...(o.alignCorners !== undefined ? [`alignCorners=${o.alignCorners}`] : [])].join(", ");
  }
}
