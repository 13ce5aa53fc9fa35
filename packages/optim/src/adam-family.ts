import { kernels, type FloatArray, type Tensor } from "@pico/core";
import { Optimizer, type ParamGroup, type ParamGroupInput } from "./optimizer.js";
import { check, checkBoolean, checkNonNegative, checkPositive, isFiniteNumber } from "./validate.js";

/** The full hyperparameters of one Adam / AdamW parameter group: those of core's Adam step. */
export type AdamGroupOptions = kernels.AdamHyper;

/** What Adam keeps per parameter: the step count and the moment estimates (and their running max with amsgrad). */
export type AdamState = { step: number; expAvg: Tensor; expAvgSq: Tensor; maxExpAvgSq?: Tensor };

/** Shared implementation of {@link Adam} and {@link AdamW}. */
export abstract class AdamFamily extends Optimizer<AdamGroupOptions, AdamState> {
  protected constructor(
    name: string,
    params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroupOptions>>,
    defaults: AdamGroupOptions,
    private readonly decoupled: boolean,
  ) {
    super(name, params, defaults);
  }

  protected validateOptions(o: AdamGroupOptions, where: string, loading = false): void {
    const owner = this.name;
    if (loading) checkNonNegative(owner, `${where}lr`, o.lr);
    else checkPositive(owner, `${where}lr`, o.lr);
    check(Array.isArray(o.betas) && o.betas.length === 2, owner, `${where}betas`, "a pair [beta1, beta2]", o.betas);
    o.betas.forEach((b, i) => check(isFiniteNumber(b) && b >= 0 && b < 1, owner, `${where}betas[${i}]`, "a number in [0, 1)", b));
    checkNonNegative(owner, `${where}eps`, o.eps);
    checkNonNegative(owner, `${where}weightDecay`, o.weightDecay);
    checkBoolean(owner, `${where}amsgrad`, o.amsgrad);
    checkBoolean(owner, `${where}maximize`, o.maximize);
  }

  protected requiredStateKeys(o: AdamGroupOptions): string[] {
    return o.amsgrad ? ["step", "expAvg", "expAvgSq", "maxExpAvgSq"] : ["step", "expAvg", "expAvgSq"];
  }

  protected updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<AdamGroupOptions>): void {
    let state = this.state.get(param);
    if (state === undefined) {
      state = { step: 0, expAvg: this.zerosLike(param), expAvgSq: this.zerosLike(param) };
      this.state.set(param, state);
    }
    if (group.amsgrad && state.maxExpAvgSq === undefined) state.maxExpAvgSq = this.zerosLike(param);
    state.step += 1;
    const vmax = group.amsgrad ? state.maxExpAvgSq!.data.data : null;
    kernels.optimizerKernels.resolve().kernel.adam(p, g, state.expAvg.data.data, state.expAvgSq.data.data, vmax, state.step, group, this.decoupled);
  }
}
