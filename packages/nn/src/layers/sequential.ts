import { ArgumentError, type Tensor } from "@pico/core";
import { Module } from "../module.js";

/** A module that maps a Tensor to a Tensor, the kind Sequential chains. */
export type TensorModule = Module<[Tensor], Tensor>;

/**
 * Chains modules: the output of each is the input of the next. Children are named "0", "1", ...,
 * so parameters are named `0.weight`, `3.bias`, ... as in PyTorch.
 *
 * @example new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10))
 */
export class Sequential extends Module {
  constructor(...modules: TensorModule[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end. */
  append(module: TensorModule): this {
    if (!(module instanceof Module)) throw new ArgumentError(`Sequential: every element must be a Module, but element ${this.length} is ${typeof module}`);
    this.registerModule(String(this.length), module);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): TensorModule {
    const list = this.children() as TensorModule[];
    const i = index < 0 ? index + list.length : index;
    const m = list[i];
    if (!Number.isInteger(index) || m === undefined) {
      throw new ArgumentError(`Sequential.at: index must be an integer in [${-list.length}, ${list.length - 1}], but got ${index}`);
    }
    return m;
  }

  [Symbol.iterator](): Iterator<TensorModule> {
    return (this.children() as TensorModule[])[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    let x = input;
    for (const m of this.children() as TensorModule[]) x = m.forward(x);
    return x;
  }
}
