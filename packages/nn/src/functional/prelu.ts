import { ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

/**
 * torch.nn.functional.prelu: x where x > 0, weight·x elsewhere, with one weight shared by every channel
 * (weight of size 1) or one per channel (axis 1 of the input; an input of rank < 2 has one channel).
 * A composition of relu, minimum and a broadcast product: the weight's gradient sums over all but the channel axis.
 */
export function prelu(input: Tensor, weight: Tensor): Tensor {
  checkTensor("prelu", "input", input);
  checkTensor("prelu", "weight", weight);
  if (weight.ndim !== 1 && weight.ndim !== 0) throw new ShapeError(`prelu: weight must be a 1-D tensor, but got shape ${formatShape(weight.shape)}`);
  const channels = input.ndim >= 2 ? input.shape[1]! : 1;
  if (weight.size !== 1 && weight.size !== channels) {
    throw new ShapeError(
      `prelu: weight must hold 1 value or one per channel (axis 1 of the input: ${channels}), but got ${weight.size} for input of shape ${formatShape(input.shape)}`,
    );
  }
  const w = weight.size === 1 || input.ndim < 2 ? weight.reshape([1]) : weight.reshape([channels, ...Array<number>(input.ndim - 2).fill(1)]);
  return input.relu().add(w.mul(input.minimum(0)));
}
