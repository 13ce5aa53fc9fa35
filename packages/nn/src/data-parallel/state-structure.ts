import { Tensor } from "@pico/core";
import { type AnyModule, Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { type NamedState, namedState } from "./shared-state.js";

const base = Module.prototype;
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A model's named parameters and buffers, walked once and walked again only when the model's structure
 * changed: DataParallel needs them before every step, and the walk (dotted names, a seen set, arrays per
 * module) cost 20-28 µs of the calling thread's step on the reference network while the replicas waited.
 *
 * What the walk returns is a function of, per module, its own enumerable properties that hold a Module or
 * a Tensor (in key order), and of which of its tensors are registered buffers. `changed()` compares
 * exactly those, by key and identity, with what the last walk saw: a parameter, buffer or sub-module
 * replaced, added or deleted, a property re-added in another order, a tensor registered as a buffer
 * (the one change of buffer status that keeps the value: it is looked up for the modules that hold an
 * unregistered tensor). A model whose namedParameters, namedBuffers, namedModules or any namedChildren is
 * not Module's own may compute anything: it is walked before every step, as before, also when such an
 * override is installed on an instance after a walk.
 */
export class StateStructure {
  /** The last walk's parameters, then buffers, with their names. */
  state!: NamedState;
  /** The last walk's parameters. */
  parameters!: Tensor[];
  /** The last walk's parameters, then buffers. */
  tensors!: Tensor[];
  /** The last walk's modules (namedModules, with names), in its order. */
  namedModules!: [string, AnyModule][];
  private modules: AnyModule[] = [];
  /** Per module, where its recorded properties end in keys/values. */
  private ends: number[] = [];
  private keys: string[] = [];
  private values: unknown[] = [];
  /** Per module that held a tensor that is not a buffer, the names of its buffers (else null). */
  private bufferNames: (string[] | null)[] = [];
  private custom = false;

  constructor(private readonly model: AnyModule) {
    this.walk();
  }

  /** True (after walking the model again) when its structure differs from the last walk's. */
  changed(): boolean {
    if (this.custom || !this.same()) {
      this.walk();
      return true;
    }
    return false;
  }

  private same(): boolean {
    // An override installed on an instance after the walk (an own method, not a Module/Tensor property).
    const model = this.model;
    if (model.namedParameters !== base.namedParameters || model.namedBuffers !== base.namedBuffers || model.namedModules !== base.namedModules) return false;
    const keys = this.keys;
    const values = this.values;
    let j = 0;
    for (let i = 0; i < this.modules.length; i++) {
      const m = this.modules[i]!;
      if (m.namedChildren !== base.namedChildren) return false;
      const props = m as unknown as Record<string, unknown>;
      const end = this.ends[i]!;
      for (const key in props) {
        if (!hasOwn.call(props, key)) continue;
        const value = props[key];
        if (!(value instanceof Module || value instanceof Tensor)) continue;
        if (j >= end || keys[j] !== key || values[j] !== value) return false;
        j++;
      }
      if (j !== end) return false;
      const names = this.bufferNames[i]!;
      if (names !== null && !sameNames(names, base.namedBuffers.call(m, { recurse: false }))) return false;
    }
    return true;
  }

  private walk(): void {
    const model = this.model;
    this.state = namedState(model);
    this.parameters = [];
    this.tensors = [];
    for (const pair of this.state.parameters) {
      this.parameters.push(pair[1]);
      this.tensors.push(pair[1]);
    }
    for (const pair of this.state.buffers) this.tensors.push(pair[1]);
    this.namedModules = model.namedModules();
    this.modules = [];
    this.ends = [];
    this.keys = [];
    this.values = [];
    this.bufferNames = [];
    this.custom = model.namedParameters !== base.namedParameters || model.namedBuffers !== base.namedBuffers || model.namedModules !== base.namedModules;
    for (const [, m] of this.namedModules) {
      if (m.namedChildren !== base.namedChildren) this.custom = true;
      const buffers = base.namedBuffers.call(m, { recurse: false });
      let unregistered = false;
      const props = m as unknown as Record<string, unknown>;
      for (const key in props) {
        if (!hasOwn.call(props, key)) continue;
        const value = props[key];
        if (!(value instanceof Module || value instanceof Tensor)) continue;
        this.keys.push(key);
        this.values.push(value);
        if (value instanceof Tensor && !(value instanceof Parameter) && !buffers.some((b) => b[1] === value)) unregistered = true;
      }
      this.modules.push(m);
      this.ends.push(this.keys.length);
      this.bufferNames.push(unregistered ? buffers.map((b) => b[0]) : null);
    }
  }
}

function sameNames(names: readonly string[], buffers: readonly [string, Tensor][]): boolean {
  if (names.length !== buffers.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== buffers[i]![0]) return false;
  return true;
}
