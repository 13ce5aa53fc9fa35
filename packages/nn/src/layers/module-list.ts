import { ArgumentError, GraphError } from "@pico/core";
import { Module, type AnyModule } from "../module.js";

/**
 * Holds sub-modules in a list so that they are registered (named "0", "1", ...) — a plain array
 * property is not scanned, as in PyTorch. It has no forward of its own: iterate over it.
 *
 * @example this.blocks = new ModuleList([new Linear(8, 8), new Linear(8, 8)]);
 *          for (const block of this.blocks) x = (block as Linear).forward(x);
 */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<never[], never> {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(module: M): this {
    if (!(module instanceof Module)) throw new ArgumentError(`ModuleList: every element must be a Module, but element ${this.length} is ${typeof module}`);
    this.registerModule(String(this.length), module);
    return this;
  }

  extend(modules: Iterable<M>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  get length(): number {
    return this.registeredModules().length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): M {
    const list = this.registeredModules() as M[];
    const m = Number.isInteger(index) ? list[index < 0 ? index + list.length : index] : undefined;
    if (m === undefined) throw new ArgumentError(`ModuleList.at: index must be an integer in [${-list.length}, ${list.length - 1}], but got ${index}`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return (this.registeredModules() as M[])[Symbol.iterator]();
  }

  forward(): never {
    throw new GraphError("ModuleList has no forward: iterate over it and call each module's forward");
  }
}
