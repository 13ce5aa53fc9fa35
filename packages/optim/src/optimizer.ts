import { ArgumentError, ShapeError, Tensor, enableGrad, fillZerosInPlace, formatShape, kernels, noGrad, zeroGradSetsToNone, type FloatArray, type ZeroGradOptions } from "@pico/core";
import { updateInPlace } from "./in-place.js";
import { checkKnownKeys, show } from "./validate.js";

/** A hyperparameter value a parameter group can hold (and a state dict can carry as plain JSON). */
export type OptionValue = number | boolean | number[] | null;

/**
 * The hyperparameters of one parameter group: every optimizer has a learning rate; the other options
 * (all {@link OptionValue}s) depend on the optimizer.
 */
export type GroupOptions = { lr: number };

/** What a caller passes for one group: its parameters and any hyperparameters that differ from the defaults. */
export type ParamGroupInput<O extends GroupOptions = GroupOptions> = { params: Iterable<Tensor> } & Partial<O>;

/** One parameter group as the optimizer holds it: options are mutable (schedulers set `lr`). */
export type ParamGroup<O extends GroupOptions = GroupOptions> = { params: Tensor[] } & O;

/** Per-parameter state: buffers as Tensors, counters as numbers. */
export type ParamState = Record<string, Tensor | number>;

/**
 * A snapshot of an optimizer, shaped like PyTorch's: parameters are referred to by their index in
 * group order, `state[i]` belongs to parameter i (null until its first update). Values are plain JSON
 * numbers/booleans/arrays plus Tensor leaves, so any checkpoint writer can serialise it.
 */
export interface OptimizerStateDict {
  state: Array<Record<string, Tensor | number> | null>;
  paramGroups: Array<{ params: number[] } & Record<string, OptionValue>>;
}

/**
 * Base of every optimizer. Holds the parameter groups (each with its own hyperparameters, merged over
 * the defaults) and the per-parameter state, and runs the in-place update of each parameter with a
 * gradient under noGrad. Subclasses supply the hyperparameter rules and the update of one parameter,
 * which works on plain row-major typed arrays (the base handles strided parameters).
 *
 * @example
 * // A custom optimizer: sign descent, p -= lr · sign(g).
 * class SignSGD extends Optimizer<{ lr: number }> {
 *   constructor(params: Iterable<Tensor>, options: { lr: number }) {
 *     super("SignSGD", params, { lr: options.lr });
 *   }
 *   protected validateOptions(o: { lr: number }, where: string): void {
 *     if (!(o.lr > 0)) throw new ArgumentError(`SignSGD: ${where}lr must be > 0, but got ${o.lr}`);
 *   }
 *   protected requiredStateKeys(): string[] {
 *     return [];
 *   }
 *   protected updateParameter(_param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<{ lr: number }>): void {
 *     for (let i = 0; i < p.length; i++) p[i] = p[i]! - group.lr * Math.sign(g[i]!);
 *   }
 * }
 */
export abstract class Optimizer<O extends GroupOptions = GroupOptions, S extends ParamState = ParamState> {
  /**
   * Whether @pico/nn's `DataParallel.step(optimizer)` may split this optimizer's update across its
   * replicas: only when the optimizer's own class declares `static splittableStep = true` (a declaration
   * on a base class does not count, since a subclass may override step or updateParameter). A class that
   * declares it promises that its step changes its parameters and state only through core's "optimizer"
   * kernels and reads none of them after such a call within the same step (DataParallel runs the calls
   * once step() has returned), nor the values of a gradient before handing it to such a call
   * (`DataParallel.trainStep` runs step() while the replicas still sum the gradients). Set on SGD,
   * Momentum, Adam and AdamW. It promises nothing about keeping gradients: that is
   * {@link Optimizer.stepKeepsNoGrad}. DataParallel decides by core's kernels.kernelOnlyStep: an instance
   * with its own step or updateParameter, or a user's kernel over the "optimizer" family, is not split.
   */
  static splittableStep = false;
  /**
   * Whether this optimizer's step keeps no reference to a gradient once it returns, so that `step()`
   * reads each `.grad` without taking it (core's kernels.peekGradForStep): a `.grad` that only backward
   * and the optimizer have seen then goes back to core's buffer pool when zeroGrad drops it, and becomes
   * the next backward's gradient, instead of every step making new gradient arrays (on 2 threads it also
   * stays in the threads' shared memory, where the update reads it in place). Only the optimizer's own
   * class declaring `static stepKeepsNoGrad = true` counts (not a base's), and a declaring class must not
   * keep `g`, or anything that views it, after updateParameter returns: the array becomes a later step's
   * gradient. Set on SGD, Momentum, Adam and AdamW. Without it (a subclass that declares only
   * splittableStep included) step reads each `.grad` through the getter, which makes it the optimizer's
   * to keep: no later step writes into it. Except under @pico/nn's DataParallel: there a `.grad` views the
   * replicas' shared sum block, which the next forwardBackward writes again, so an optimizer that keeps a
   * gradient must keep a copy of `g`. Step decides by core's kernels.stepKeepsNoGrad: an instance
   * with its own step or updateParameter, or a user's kernel over the "optimizer" family, reads through
   * the getter too.
   */
  static stepKeepsNoGrad = false;
  /** The name used in error messages, e.g. `Adam`. */
  readonly name: string;
  /** The hyperparameters a group gets unless it sets its own. */
  readonly defaults: O;
  /** The parameter groups; change `lr` (or other options) here to affect the next step. */
  readonly paramGroups: Array<ParamGroup<O>> = [];
  /** State per parameter (like PyTorch's `optimizer.state[p]`), created on a parameter's first update. */
  readonly state = new Map<Tensor, S>();

  protected constructor(name: string, params: Iterable<Tensor> | Iterable<ParamGroupInput<O>>, defaults: O) {
    this.name = name;
    this.validateOptions(defaults, "");
    this.defaults = copyOptions(defaults as unknown as Record<string, OptionValue>) as unknown as O;
    if (params instanceof Tensor || params === null || typeof params !== "object" || !(Symbol.iterator in params)) {
      const hint = typeof (params as { parameters?: unknown } | null)?.parameters === "function" ? " (did you mean model.parameters()?)" : "";
      throw new ArgumentError(`${name}: params must be an iterable of Tensors or of parameter groups { params, ...options }, but got ${show(params)}${hint}`);
    }
    const list = [...params] as Array<Tensor | ParamGroupInput<O>>;
    if (list.length === 0) throw new ArgumentError(`${name}: params must not be empty (the optimizer got an empty parameter list)`);
    if (list.every((p) => p instanceof Tensor)) {
      this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupInput<O>);
    } else {
      for (const group of list) {
        if (group instanceof Tensor) {
          throw new ArgumentError(`${name}: params must be all Tensors or all parameter groups, not a mix`);
        }
        this.addParamGroup(group);
      }
    }
  }

  /**
   * Adds a group of parameters with its own hyperparameters (the rest taken from the defaults), e.g. to
   * fine-tune new layers with a larger learning rate. A parameter may belong to one group only.
   */
  addParamGroup(group: ParamGroupInput<O>): void {
    const where = `paramGroups[${this.paramGroups.length}]`;
    if (group === null || typeof group !== "object") {
      throw new ArgumentError(`${this.name}: ${where} must be an object { params, ...options }, but got ${show(group)}`);
    }
    const { params, ...options } = group;
    if (params === undefined || params === null || params instanceof Tensor || !(Symbol.iterator in Object(params))) {
      throw new ArgumentError(`${this.name}: ${where}.params must be an iterable of Tensors, but got ${show(params)}`);
    }
    const tensors = [...params];
    const seen = new Set<Tensor>();
    for (const other of this.paramGroups) for (const p of other.params) seen.add(p);
    tensors.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ArgumentError(`${this.name}: ${where}.params[${i}] must be a Tensor, but got ${show(p)}`);
      if (seen.has(p)) throw new ArgumentError(`${this.name}: ${where}.params[${i}] appears more than once; a parameter may be in one group only, once`);
      seen.add(p);
    });
    checkKnownKeys(this.name, `${where} has an `, options, Object.keys(this.defaults));
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Record<string, OptionValue>;
    const merged = { ...copyOptions(this.defaults as unknown as Record<string, OptionValue>), ...copyOptions(given) } as unknown as O;
    this.validateOptions(merged, `${where}.`);
    this.paramGroups.push({ ...merged, params: tensors });
  }

  /**
   * Updates every parameter that has a gradient, in place. With a `closure` (which should clear the
   * gradients, compute the loss and call backward), runs it first with gradients enabled and returns its result.
   */
  step<T>(closure?: () => T): T | undefined {
    const loss = closure === undefined ? undefined : enableGrad(closure);
    // A step that keeps no gradient (see stepKeepsNoGrad) reads each .grad without taking it.
    const peek = kernels.stepKeepsNoGrad(this);
    noGrad(() => {
      let index = 0;
      // Indexed loops: no iterator per group on every step.
      for (let gi = 0; gi < this.paramGroups.length; gi++) {
        const group = this.paramGroups[gi]!;
        for (let pi = 0; pi < group.params.length; pi++) {
          const param = group.params[pi]!;
          const grad = peek ? kernels.peekGradForStep(param) : param.grad;
          if (grad !== null) {
            if (!kernels.sameShape(grad.shape, param.shape)) {
              throw new ShapeError(
                `${this.name}.step: parameter ${index} has shape ${formatShape(param.shape)}, but its gradient has shape ${formatShape(grad.shape)}`,
              );
            }
            const g = kernels.packed(grad.data).data;
            // A packed parameter (every one a module makes) is updated directly, without a closure per parameter and step.
            if (kernels.isPacked(param.data)) this.updateParameter(param, param.data.data, g, group);
            else updateInPlace(param.data, (p) => this.updateParameter(param, p, g, group));
            param.bumpVersion();
          }
          index++;
        }
      }
    });
    return loss;
  }

  /**
   * Clears every parameter's gradient: sets it to null (PyTorch's `zero_grad(set_to_none=True)`, the
   * default), or with `{ setToNone: false }` fills it with zeros where it is (PyTorch's
   * `zero_grad(set_to_none=False)`), so that the next backward adds into the same array instead of
   * handing each parameter a new one every step: a training loop then allocates no gradient arrays (the
   * reference network's are 146 KB a step, which the garbage collector has to reclaim). As in PyTorch, a
   * parameter whose gradient then stays zero still moves under momentum or Adam, where one without a
   * gradient is skipped; a `.grad` kept from before is overwritten.
   */
  zeroGrad(options?: ZeroGradOptions): void {
    const setToNone = zeroGradSetsToNone(`${this.name}.zeroGrad`, options);
    for (let gi = 0; gi < this.paramGroups.length; gi++) {
      const params = this.paramGroups[gi]!.params;
      for (let pi = 0; pi < params.length; pi++) {
        const param = params[pi]!;
        // Read without taking it, and dropped through the setter: a .grad nobody else has seen goes back to the buffer pool.
        const grad = kernels.peekGrad(param);
        if (setToNone || grad === null) {
          param.grad = null;
          continue;
        }
        // Views included (a strided .grad): every element the tensor shows becomes 0.
        fillZerosInPlace(grad.data);
        grad.bumpVersion();
      }
    }
  }

  /** A deep copy of the hyperparameters and state; later steps do not change it. */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict["state"] = [];
    let index = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const { params, ...options } = group;
      const ids = params.map((p) => {
        const s = this.state.get(p);
        state.push(s === undefined ? null : copyState(s));
        return index++;
      });
      return { ...copyOptions(options as unknown as Record<string, OptionValue>), params: ids };
    });
    return { state, paramGroups };
  }

  /**
   * Restores hyperparameters and state saved by `stateDict()` from an optimizer built over the same
   * parameters in the same order. Checks the group count, each group's parameter count, option types
   * and state shapes before changing anything; copies every value (nothing aliases `dict`).
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const owner = `${this.name}.loadStateDict`;
    const fail = (message: string): never => {
      throw new ArgumentError(`${owner}: ${message}`);
    };
    if (dict === null || typeof dict !== "object" || !Array.isArray(dict.state) || !Array.isArray(dict.paramGroups)) {
      fail(`expected { state: [...], paramGroups: [...] }, but got ${show(dict)}`);
    }
    if (dict.paramGroups.length !== this.paramGroups.length) {
      fail(`the state dict has ${dict.paramGroups.length} parameter groups, but this optimizer has ${this.paramGroups.length}`);
    }
    const total = this.paramGroups.reduce((n, g) => n + g.params.length, 0);
    if (dict.state.length !== total) fail(`the state dict has state for ${dict.state.length} parameters, but this optimizer has ${total}`);

    const paramOf = new Map<number, { param: Tensor; group: ParamGroup<O>; position: number }>();
    const newOptions: O[] = [];
    let position = 0;
    this.paramGroups.forEach((group, gi) => {
      const saved = dict.paramGroups[gi]!;
      const where = `paramGroups[${gi}]`;
      if (saved === null || typeof saved !== "object" || !Array.isArray(saved.params)) fail(`${where} must be an object with a params array`);
      if (saved.params.length !== group.params.length) {
        fail(`${where} has ${saved.params.length} parameters in the state dict, but ${group.params.length} in this optimizer`);
      }
      saved.params.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= total || paramOf.has(id)) {
          fail(`${where}.params[${i}] must be a distinct parameter index in [0, ${total}), but got ${show(id)}`);
        }
        paramOf.set(id, { param: group.params[i]!, group, position: position++ });
      });
      const { params: _ids, ...options } = saved;
      const { params: _current, ...current } = group;
      for (const [key, value] of Object.entries(options)) {
        if (!(key in current)) fail(`${where} has an unknown option ${JSON.stringify(key)}; the options are ${Object.keys(current).join(", ")}`);
        const now = (current as Record<string, OptionValue>)[key]!;
        if (!sameKind(now, value)) fail(`${where}.${key} must be like ${show(now)} (${kindOf(now)}), but got ${show(value)}`);
      }
      const merged = { ...current, ...copyOptions(options) } as unknown as O;
      this.validateOptions(merged, `${where}.`, true);
      newOptions.push(merged);
    });

    const newState = new Map<Tensor, S>();
    dict.state.forEach((entry, id) => {
      const where = `state[${id}]`;
      if (entry === null || entry === undefined) return;
      if (typeof entry !== "object") fail(`${where} must be an object or null, but got ${show(entry)}`);
      const { param, group, position } = paramOf.get(id)!;
      const copy: Record<string, Tensor | number> = {};
      for (const [key, value] of Object.entries(entry)) {
        if (value instanceof Tensor) {
          if (!kernels.sameShape(value.shape, param.shape)) {
            fail(`${where}.${key} has shape ${formatShape(value.shape)}, but parameter ${position} has shape ${formatShape(param.shape)}`);
          }
          copy[key] = new Tensor(kernels.copy(value.data, param.dtype));
        } else if (typeof value === "number" && Number.isFinite(value)) {
          copy[key] = value;
        } else {
          fail(`${where}.${key} must be a Tensor or a finite number, but got ${show(value)}`);
        }
      }
      const missing = this.requiredStateKeys(newOptions[this.paramGroups.indexOf(group)]!).filter((k) => !(k in copy));
      if (missing.length > 0) fail(`${where} lacks ${missing.join(", ")}, which ${this.name} needs`);
      newState.set(param, copy as S);
    });

    this.paramGroups.forEach((group, gi) => Object.assign(group, newOptions[gi]));
    this.state.clear();
    for (const [param, s] of newState) this.state.set(param, s);
  }

  /**
   * Throws an ArgumentError naming the optimizer, `where` + the option, the rule and the value unless
   * `options` are valid. `loading` relaxes rules a scheduler may legitimately break (an lr of 0).
   */
  protected abstract validateOptions(options: O, where: string, loading?: boolean): void;

  /** The state entries a parameter of a group with `options` must have once it has state. */
  protected abstract requiredStateKeys(options: O): string[];

  /**
   * Updates one parameter in place. `p` is its values (row-major, writable), `g` its gradient
   * (row-major, read only), `group` its group's hyperparameters.
   */
  protected abstract updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<O>): void;

  /** A zero-filled packed buffer shaped and typed like `param`, for optimizer state. */
  protected zerosLike(param: Tensor): Tensor {
    return new Tensor(kernels.create(param.dtype, param.shape));
  }
}

function copyOptions(options: Record<string, OptionValue>): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(options)) out[key] = Array.isArray(value) ? [...value] : value;
  return out;
}

function copyState(state: ParamState): Record<string, Tensor | number> {
  const out: Record<string, Tensor | number> = {};
  for (const [key, value] of Object.entries(state)) out[key] = value instanceof Tensor ? new Tensor(kernels.copy(value.data)) : value;
  return out;
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length} numbers`;
  if (value === null) return "null";
  return `a ${typeof value}`;
}

function sameKind(now: OptionValue, value: unknown): boolean {
  if (Array.isArray(now)) return Array.isArray(value) && value.length === now.length && value.every((v) => typeof v === "number");
  if (now === null) return value === null || typeof value === "number";
  return typeof value === typeof now;
}
