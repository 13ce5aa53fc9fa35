import { ShapeError, formatShape, noGrad, type Tensor } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";
import { normalizeAxes } from "./normalize-axes.js";

export interface InstanceNormOptions {
  /** Running mean and variance [C]: updated when `useInputStats` (the default), used instead of the input's when not. */
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalise with each instance's own statistics. Default true. */
  useInputStats?: boolean;
  /** Weight of this batch in the running statistics. Default 0.1. */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * torch.nn.functional.instance_norm: each channel of each sample of [N, C, *] normalised over its spatial
 * axes with its own mean and biased variance, then `· weight + bias` per channel. With running statistics
 * and `useInputStats`, they move towards the batch's average of the instances' means and unbiased variances.
 */
export function instanceNorm(input: Tensor, options: InstanceNormOptions = {}): Tensor {
  const op = "instanceNorm";
  checkTensor(op, "input", input);
  checkOptions(op, options, ["runningMean", "runningVar", "weight", "bias", "useInputStats", "momentum", "eps"]);
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  checkNumber(op, "eps", eps, 0, Infinity, { min: true });
  checkNumber(op, "momentum", momentum, 0, 1);
  if (input.ndim < 3) throw new ShapeError(`${op}: input must be [N, C, *] with at least one spatial axis, but got shape ${formatShape(input.shape)}`);
  const c = input.shape[1]!;
  const spatial = Array.from({ length: input.ndim - 2 }, (_, i) => i + 2);
  const perChannel = [1, c, ...spatial.map(() => 1)];
  for (const [name, t] of [["weight", options.weight], ["bias", options.bias], ["runningMean", options.runningMean], ["runningVar", options.runningVar]] as const) {
    if (t === undefined || t === null) continue;
    checkTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new ShapeError(`${op}: ${name} must have shape [${c}] (one per channel), but got ${formatShape(t.shape)}`);
  }
  const { runningMean, runningVar } = options;
  const useInputStats = options.useInputStats ?? true;
  let y: Tensor;
  if (useInputStats) {
    y = normalizeAxes(input, spatial, eps);
    if (runningMean || runningVar) {
      noGrad(() => {
        const count = spatial.reduce((p, a) => p * input.shape[a]!, 1);
        const mean = input.mean(spatial, true);
        const unbiased = input.sub(mean).square().sum(spatial).div(Math.max(count - 1, 1));
        if (runningMean) blend(runningMean, mean.reshape([-1, c]).mean(0), momentum);
        if (runningVar) blend(runningVar, unbiased.mean(0), momentum);
      });
    }
  } else {
    if (!runningMean || !runningVar) throw new ShapeError(`${op}: useInputStats false needs runningMean and runningVar`);
    y = input.sub(runningMean.reshape(perChannel)).div(runningVar.reshape(perChannel).add(eps).sqrt());
  }
  if (options.weight) y = y.mul(options.weight.reshape(perChannel));
  if (options.bias) y = y.add(options.bias.reshape(perChannel));
  return y;
}

/** running ← (1 − momentum)·running + momentum·batch, in place. */
function blend(running: Tensor, batch: Tensor, momentum: number): void {
  const r = running.data;
  const b = batch.to(running.dtype).toTypedArray();
  for (let i = 0; i < b.length; i++) {
    const at = r.offset + i * r.stride[0]!;
    r.data[at] = (1 - momentum) * r.data[at]! + momentum * b[i]!;
  }
  running.bumpVersion();
}
