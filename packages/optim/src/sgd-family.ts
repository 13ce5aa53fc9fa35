import { ArgumentError, kernels, type FloatArray, type Tensor } from "@pico/core";
import { Optimizer, type ParamGroup, type ParamGroupInput } from "./optimizer.js";
import { check, checkBoolean, checkNonNegative, checkPositive, isFiniteNumber } from "./validate.js";

/** The full hyperparameters of one SGD / Momentum parameter group: those of core's SGD step. */
export type SGDGroupOptions = kernels.SgdHyper;

/** What SGD keeps per parameter once momentum is on: the velocity buffer. */
export type SGDState = { momentumBuffer: Tensor };

/** Shared implementation of {@link SGD} and {@link Momentum} (PyTorch's torch.optim.SGD). */
export abstract class SGDFamily extends Optimizer<SGDGroupOptions, SGDState> {
  protected constructor(name: string, params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDGroupOptions>>, defaults: SGDGroupOptions) {
    super(name, params, defaults);
  }

  protected validateOptions(o: SGDGroupOptions, where: string, loading = false): void {
    const owner = this.name;
    if (loading) checkNonNegative(owner, `${where}lr`, o.lr);
    else checkPositive(owner, `${where}lr`, o.lr);
    checkNonNegative(owner, `${where}momentum`, o.momentum);
    check(isFiniteNumber(o.dampening) && o.dampening >= 0 && o.dampening <= 1, owner, `${where}dampening`, "a number in [0, 1]", o.dampening);
    checkBoolean(owner, `${where}nesterov`, o.nesterov);
    checkNonNegative(owner, `${where}weightDecay`, o.weightDecay);
    checkBoolean(owner, `${where}maximize`, o.maximize);
    if (o.nesterov && !(o.momentum > 0 && o.dampening === 0)) {
      throw new ArgumentError(
        `${owner}: ${where}nesterov needs momentum > 0 and dampening = 0, but got momentum ${o.momentum} and dampening ${o.dampening}`,
      );
    }
  }

  protected requiredStateKeys(o: SGDGroupOptions): string[] {
    return o.momentum !== 0 ? ["momentumBuffer"] : [];
  }

  protected updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<SGDGroupOptions>): void {
    const { kernel } = kernels.optimizerKernels.resolve();
    if (group.momentum === 0) {
      kernel.sgd(p, g, null, false, group);
      return;
    }
    let state = this.state.get(param);
    const first = state === undefined;
    if (state === undefined) {
      state = { momentumBuffer: this.zerosLike(param) };
      this.state.set(param, state);
    }
    kernel.sgd(p, g, state.momentumBuffer.data.data, first, group);
  }
}
