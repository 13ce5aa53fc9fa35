import { ArgumentError, ShapeError, Tensor, formatShape, noGrad, zeroGradSetsToNone, type DType, type ZeroGradOptions } from "@pico/core";
import { assignInto, converted } from "./assign.js";
import { withCurrentKeys } from "./legacy-state-keys.js";
import { Parameter } from "./parameter.js";

/** Any module, whatever its forward takes and returns. */
export type AnyModule = Module<unknown[], unknown>;

export interface LoadStateDictOptions {
  /** Refuse missing and unexpected keys (shape mismatches are refused either way). Default true. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base class of every layer and model, as torch.nn.Module.
 *
 * Sub-modules and parameters are found by scanning the instance's own properties, so
 * `this.fc = new Linear(4, 2)` or `this.weight = new Parameter(...)` registers them; the order is
 * the order in which the properties were created. Buffers (state that is not trained, such as
 * BatchNorm's running statistics) are plain Tensors and must be declared with `registerBuffer`.
 * `registerModule` / `registerParameter` do the same as an assignment, for computed names.
 */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  /**
   * A class's promise that its forward keeps no reference to its input or its output (no cache, no
   * closure, no hook that outlives the call) and returns either its input, a view of it, or a tensor in
   * an array of its own that nothing else references. Containers then hand the arrays between such
   * modules back to the buffer pool once nothing can read them (Sequential's recycling, see
   * keepsNoReferences in keeps-no-references.ts). Default false: a module may keep anything. The built-in layers
   * that keep nothing declare `static override keepsNoReferences = true`; so may a user's module.
   * The promise is the declaring class's alone: a subclass (which may override forward or what forward
   * calls) keeps it only by declaring it again.
   */
  static keepsNoReferences = false;
  /** Training mode (true) or evaluation mode (false); see train() and eval(). */
  training = true;
  readonly #buffers = new Set<string>();
  readonly #nonPersistent = new Set<string>();

  abstract forward(...inputs: In): Out;

  /** Runs forward; the counterpart of calling a torch module. */
  call(...inputs: In): Out {
    return this.forward(...inputs);
  }

  // ---- registration -------------------------------------------------------------------------

  registerParameter<P extends Parameter | null>(name: string, parameter: P): P {
    this.checkName("registerParameter", name);
    if (parameter !== null && !(parameter instanceof Parameter)) {
      throw new ArgumentError(`${this.constructor.name}.registerParameter: "${name}" must be a Parameter or null, but got ${typeName(parameter)}`);
    }
    this.#buffers.delete(name);
    this.#nonPersistent.delete(name);
    this.set(name, parameter);
    return parameter;
  }

  /**
   * Declares `tensor` as a buffer: state saved in stateDict (unless `persistent` is false) and
   * moved by `to()`, but not returned by parameters().
   */
  registerBuffer<T extends Tensor | null>(name: string, tensor: T, options: { persistent?: boolean } = {}): T {
    this.checkName("registerBuffer", name);
    if (tensor !== null && (!(tensor instanceof Tensor) || tensor instanceof Parameter)) {
      throw new ArgumentError(`${this.constructor.name}.registerBuffer: "${name}" must be a Tensor (not a Parameter) or null, but got ${typeName(tensor)}`);
    }
    this.#buffers.add(name);
    if (options.persistent === false) this.#nonPersistent.add(name);
    else this.#nonPersistent.delete(name);
    this.set(name, tensor);
    return tensor;
  }

  registerModule<M extends AnyModule | null>(name: string, module: M): M {
    this.checkName("registerModule", name);
    if (module !== null && !(module instanceof Module)) {
      throw new ArgumentError(`${this.constructor.name}.registerModule: "${name}" must be a Module or null, but got ${typeName(module)}`);
    }
    this.#buffers.delete(name);
    this.set(name, module);
    return module;
  }

  // ---- traversal ----------------------------------------------------------------------------

  /** Direct sub-modules with their attribute names. */
  namedChildren(): [string, AnyModule][] {
    return this.own((v): v is AnyModule => v instanceof Module);
  }
  children(): AnyModule[] {
    // Pushed, not mapped: a map's result changes elements kind once the caller is optimized, and every
    // function that had read the children (Sequential's forward, the fusion patterns) then deoptimizes.
    // Through namedChildren, as torch's children() goes through named_children(): a subclass that
    // overrides it (to hide or order its sub-modules) gets the same children from both.
    const out: AnyModule[] = [];
    for (const pair of this.namedChildren()) out.push(pair[1]);
    return out;
  }

  /**
   * The sub-modules registered on this one, in registration order, whatever an override of namedChildren
   * shows: what a container computes with (Sequential's forward, ModuleList's elements), as torch's
   * containers iterate their _modules.
   */
  protected registeredModules(): AnyModule[] {
    const out: AnyModule[] = [];
    for (const value of Object.values(this)) if (value instanceof Module) out.push(value);
    return out;
  }

  /** This module and every module below it (each once), pre-order, with dotted names ("" for this one). */
  namedModules(prefix = ""): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const visit = (name: string, m: AnyModule): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [child, c] of m.namedChildren()) visit(name === "" ? child : `${name}.${child}`, c);
    };
    visit(prefix, this as unknown as AnyModule);
    return out;
  }
  modules(): AnyModule[] {
    // namedModules' walk (through each module's namedChildren) without the dotted names (train() runs it on every training step).
    const out: AnyModule[] = [];
    const seen = new Set<AnyModule>();
    this.visitModules(this as unknown as AnyModule, out, seen);
    return out;
  }

  /** Parameters with dotted names (`0.weight`, `features.0.bias`), each once, in registration order. */
  namedParameters(options: { recurse?: boolean } = {}): [string, Parameter][] {
    return this.collect((m) => m.own((v): v is Parameter => v instanceof Parameter), options.recurse ?? true);
  }
  parameters(options: { recurse?: boolean } = {}): Parameter[] {
    const out: Parameter[] = [];
    for (const [, p] of this.namedParameters(options)) out.push(p);
    return out;
  }

  /** Buffers (e.g. BatchNorm running statistics) with dotted names. */
  namedBuffers(options: { recurse?: boolean } = {}): [string, Tensor][] {
    return this.collect((m) => m.ownBuffers(false), options.recurse ?? true);
  }
  buffers(options: { recurse?: boolean } = {}): Tensor[] {
    const out: Tensor[] = [];
    for (const [, b] of this.namedBuffers(options)) out.push(b);
    return out;
  }

  /** Calls `fn` on every sub-module and then on this one, like torch's Module.apply. */
  apply(fn: (module: AnyModule) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this as unknown as AnyModule);
    return this;
  }

  // ---- modes and gradients ------------------------------------------------------------------

  /** Sets training mode on this module and every sub-module. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Clears the gradient of every parameter: sets it to null (PyTorch 2's default), or with
   * `{ setToNone: false }` fills an existing gradient with zeros in place (PyTorch 1.13's default,
   * `zero_grad(set_to_none=False)`), as the optimizers' zeroGrad does.
   */
  zeroGrad(options?: ZeroGradOptions): void {
    const setToNone = zeroGradSetsToNone(`${this.constructor.name}.zeroGrad`, options);
    for (const p of this.parameters()) p.zeroGrad({ setToNone });
  }

  /** Converts every parameter and buffer to `dtype` in place (the objects stay the same). */
  to(dtype: DType): this {
    for (const t of [...this.parameters(), ...this.buffers()]) {
      t.data = converted(t.data, dtype);
      if (t.grad !== null) t.grad.data = converted(t.grad.data, dtype);
    }
    return this;
  }

  // ---- state --------------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by dotted name, in PyTorch's order (each module's
   * parameters, then its buffers, then its children). The tensors share memory with the module.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, t] of this.stateEntries()) out[name] = t.detach();
    return out;
  }

  /**
   * Copies `dict` into this module's parameters and buffers. A key the model has but `dict` lacks
   * (missing), a key `dict` has but the model lacks (unexpected) — both only when `strict` — and a
   * shape that differs are errors that list every offending key. Keys are PyTorch's
   * (`1.running_mean`); the camelCase BatchNorm keys of older Pico files (`1.runningMean`) still load.
   */
  loadStateDict(input: Readonly<Record<string, Tensor>>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const where = `${this.constructor.name}.loadStateDict`;
    if (typeof input !== "object" || input === null) throw new ArgumentError(`${where}: dict must be an object of name -> Tensor, but got ${typeName(input)}`);
    const own = new Map(this.stateEntries());
    const dict = withCurrentKeys(input, own);
    const missingKeys = [...own.keys()].filter((k) => !Object.hasOwn(dict, k));
    const unexpectedKeys = Object.keys(dict).filter((k) => !own.has(k));
    const problems: string[] = [];
    if (strict) {
      for (const k of missingKeys) problems.push(`missing key "${k}" (the model expects shape ${formatShape(own.get(k)!.shape)})`);
      for (const k of unexpectedKeys) problems.push(`unexpected key "${k}" (shape ${shapeOf(dict[k])}), which the model does not have`);
    }
    let mismatched = false;
    for (const [k, target] of own) {
      if (!Object.hasOwn(dict, k)) continue;
      const source = dict[k];
      if (!(source instanceof Tensor)) {
        problems.push(`"${k}" must be a Tensor, but got ${typeName(source)}`);
      } else if (!sameShape(source.shape, target.shape)) {
        mismatched = true;
        problems.push(`size mismatch for "${k}": the state dict has shape ${formatShape(source.shape)}, the model has shape ${formatShape(target.shape)}`);
      }
    }
    if (problems.length > 0) {
      const message = `${where}: cannot load the state dict:\n  ${problems.join("\n  ")}`;
      throw mismatched ? new ShapeError(message) : new ArgumentError(message);
    }
    noGrad(() => {
      for (const [k, target] of own) {
        const source = dict[k];
        if (source === undefined) continue;
        assignInto(target.data, source.data);
        // A copy into the tensor, as torch's copy_: a graph that saved it refuses to backpropagate.
        target.bumpVersion();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing -----------------------------------------------------------------------------

  /** The part of the summary line between the parentheses, e.g. `4, 2, bias=true` for Linear. */
  extraRepr(): string {
    return "";
  }

  /** PyTorch-style nested description: `Sequential(\n  (0): Linear(inFeatures=4, ...)\n)`. */
  toString(): string {
    const extra = this.extraRepr();
    const lines = extra === "" ? [] : extra.split("\n");
    const children = this.namedChildren().map(([name, m]) => `(${name}): ${indent(m.toString(), 2)}`);
    lines.push(...children);
    let body = "";
    if (lines.length === 1 && children.length === 0) body = lines[0]!;
    else if (lines.length > 0) body = `\n  ${lines.join("\n  ")}\n`;
    return `${this.constructor.name}(${body})`;
  }

  /** Number of scalar parameters (each shared parameter counted once). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    return this.parameters()
      .filter((p) => !options.trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.size, 0);
  }

  /** toString() followed by total, trainable and non-trainable parameter counts. */
  summary(): string {
    const total = this.numParameters();
    const trainable = this.numParameters({ trainableOnly: true });
    return [
      this.toString(),
      `Total params: ${group(total)}`,
      `Trainable params: ${group(trainable)}`,
      `Non-trainable params: ${group(total - trainable)}`,
    ].join("\n");
  }

  // ---- internals ----------------------------------------------------------------------------

  private own<T>(is: (value: unknown) => value is T): [string, T][] {
    const out: [string, T][] = [];
    // Own enumerable keys in Object.entries' order, without its [key, value] pair for every property:
    // train() walks every module's namedChildren on each training step. Object.keys, not for-in with
    // hasOwnProperty: the reference network's train() took 2.6-2.9 µs instead of 3.8-6.2 (node micro-loop).
    const keys = Object.keys(this);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value: unknown = (this as Record<string, unknown>)[key];
      if (is(value)) out.push([key, value]);
    }
    return out;
  }

  private visitModules(m: AnyModule, out: AnyModule[], seen: Set<AnyModule>): void {
    if (seen.has(m)) return;
    seen.add(m);
    out.push(m);
    for (const pair of m.namedChildren()) this.visitModules(pair[1], out, seen);
  }

  private ownBuffers(persistentOnly: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const entry of this.own((v): v is Tensor => v instanceof Tensor && !(v instanceof Parameter))) {
      if (this.#buffers.has(entry[0]) && !(persistentOnly && this.#nonPersistent.has(entry[0]))) out.push(entry);
    }
    return out;
  }

  private collect<T>(ownOf: (m: Module<unknown[], unknown>) => [string, T][], recurse: boolean): [string, T][] {
    const out: [string, T][] = [];
    const seen = new Set<T>();
    const modules: [string, AnyModule][] = recurse ? this.namedModules() : [["", this as unknown as AnyModule]];
    for (const [prefix, m] of modules) {
      for (const [name, value] of ownOf(m)) {
        if (seen.has(value)) continue;
        seen.add(value);
        out.push([prefix === "" ? name : `${prefix}.${name}`, value]);
      }
    }
    return out;
  }

  /** Like PyTorch, a module reachable under two names (weight tying) is listed under both. */
  private stateEntries(prefix = "", path = new Set<AnyModule>()): [string, Tensor][] {
    const self = this as unknown as AnyModule;
    if (path.has(self)) throw new ArgumentError(`${this.constructor.name}: the module tree has a cycle at "${prefix}"`);
    path.add(self);
    const at = (name: string): string => (prefix === "" ? name : `${prefix}.${name}`);
    const out: [string, Tensor][] = [];
    for (const [name, t] of [...this.own((v): v is Parameter => v instanceof Parameter), ...this.ownBuffers(true)]) out.push([at(name), t]);
    for (const [name, child] of this.namedChildren()) out.push(...child.stateEntries(at(name), path));
    path.delete(self);
    return out;
  }

  private checkName(method: string, name: string): void {
    if (typeof name !== "string" || name === "" || name.includes(".")) {
      throw new ArgumentError(`${this.constructor.name}.${method}: name must be a non-empty string without ".", but got ${JSON.stringify(name)}`);
    }
    if (name in this && !Object.hasOwn(this, name)) {
      throw new ArgumentError(`${this.constructor.name}.${method}: name "${name}" collides with a method or accessor of ${this.constructor.name}`);
    }
  }

  private set(name: string, value: unknown): void {
    (this as unknown as Record<string, unknown>)[name] = value;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function shapeOf(value: unknown): string {
  return value instanceof Tensor ? formatShape(value.shape) : typeName(value);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "an object";
  return `${typeof value} ${String(value)}`;
}

function indent(text: string, spaces: number): string {
  return text.split("\n").join(`\n${" ".repeat(spaces)}`);
}

function group(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
