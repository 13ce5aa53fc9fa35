import { Tensor, type NDArray } from "@pico/core";

/**
 * A Tensor that a Module owns and an optimizer updates: it requires grad (unless asked not to)
 * and is retained by the Tracer, so its `.grad` survives backward.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor | NDArray, requiresGrad = true) {
    super(data instanceof Tensor ? data.data : data, { requiresGrad, retain: true });
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}
