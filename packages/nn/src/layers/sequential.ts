import { ArgumentError, kernels, Tensor, tracer } from "@pico/core";
import type { Context } from "@pico/core";
import { forwardInPlace } from "../fusion/in-place.js";
import { FUSION_PATTERNS, fuseAt } from "../fusion/patterns.js";
import { keepsNoReferences } from "../keeps-no-references.js";
import { Module } from "../module.js";
import { arrayCreator } from "../release-dead.js";

/** A module that maps a Tensor to a Tensor, the kind Sequential chains. */
export type TensorModule = Module<[Tensor], Tensor>;

/**
 * Chains modules: the output of each is the input of the next. Children are named "0", "1", ...,
 * so parameters are named `0.weight`, `3.bias`, ... as in PyTorch.
 *
 * Fusion: while `Sequential.fusion` is true (the default), runs of consecutive children that match one
 * of the patterns in fusion/patterns.ts (FUSION_PATTERNS: Conv2d → BatchNorm2d (→ ReLU),
 * Conv2d → ReLU → MaxPool2d, BatchNorm → ReLU) run as that pattern's fused forward: BatchNorm folded into
 * the convolution in evaluation, BatchNorm and ReLU in one pass in training, convolution, ReLU and
 * pooling in one operator. Outputs and gradients equal the modules' to float32 rounding; parameters,
 * state dicts and module names do not change. Inputs a pattern does not cover go through the modules,
 * so errors are theirs. Set `Sequential.fusion = false` to run every module on its own; for a Module
 * that is not a Sequential, see fuseModules.
 *
 * Recycling (while `Sequential.recycling` is true, the default): intermediate outputs that nothing
 * outside the chain can reach go back to the buffer pool, so training and inference do not pile up
 * dead arrays between garbage collections. Under noGrad an intermediate is recycled as soon as the
 * next module has returned a result in another buffer; in grad mode it is declared private to the
 * call that created it (see `tracer.keepPrivate`), which a backward without retainGraph releases
 * after every call that reads it (for an array a module wrote into in place, the call that created it).
 * Only buffers that every module producing or reading them keeps no reference to qualify: modules whose
 * class declares `static keepsNoReferences = true` (see Module.keepsNoReferences and keepsNoReferences:
 * the built-in layers that keep nothing, Sequential itself, and any user's module that promises it),
 * without a forward patched onto the instance, with every submodule qualifying too. The Sequential's
 * input and output never do. Any other module (a custom layer that caches its input, a subclass that
 * does not repeat the declaration) leaves the buffers it saw to the garbage collector. Under noGrad a
 * module listed in IN_PLACE_PATTERNS (fusion/in-place.ts: ReLU, and a subclass that keeps ReLU's
 * forward, matched as the fusion patterns match) writes its result over such an intermediate instead
 * of into a new array; the result stays recyclable further on only if the module keeps no references.
 *
 * @example new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10))
 */
export class Sequential extends Module {
  /** Its forward keeps nothing itself; whether it may be recycled around also depends on its children (keepsNoReferences). */
  static override keepsNoReferences = true;
  /** Whether forward runs the fusion patterns (FUSION_PATTERNS, see the class comment). */
  static fusion = true;
  /** Whether forward recycles dead intermediates (see the class comment). */
  static recycling = true;

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
    return this.registeredModules().length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): TensorModule {
    const list = this.registeredModules() as TensorModule[];
    const i = index < 0 ? index + list.length : index;
    const m = list[i];
    if (!Number.isInteger(index) || m === undefined) {
      throw new ArgumentError(`Sequential.at: index must be an integer in [${-list.length}, ${list.length - 1}], but got ${index}`);
    }
    return m;
  }

  [Symbol.iterator](): Iterator<TensorModule> {
    return (this.registeredModules() as TensorModule[])[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    const list = this.registeredModules() as TensorModule[];
    const recycling = Sequential.recycling;
    const inputBuffer = bufferOf(input);
    let x = input;
    let chain: Chain = { private: false, owner: null };
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      let y: Tensor | null = null;
      let safe = false;
      if (Sequential.fusion) {
        // An intermediate nothing outside the chain reaches goes to the run alone (see FusionPattern.forward).
        const fused = fuseAt(list, i, x, FUSION_PATTERNS, chain.private);
        if (fused !== null) {
          y = fused.output;
          safe = allKeepNoReferences(list, i, i + fused.length);
          i += fused.length - 1;
        }
      }
      if (y === null && recycling && tracer.blind && chain.private && forwardInPlace(m, x)) {
        y = x;
        safe = keepsNoReferences(m);
      }
      if (y === null) {
        y = m.forward(x);
        safe = keepsNoReferences(m);
      }
      if (recycling) chain = recycleDead(x, chain, y, safe, inputBuffer);
      x = y;
    }
    return x;
  }
}

/** Whether keepsNoReferences holds for list[start..end) (a loop, not slice().every(): forward runs it on every call). */
function allKeepNoReferences(list: readonly TensorModule[], start: number, end: number): boolean {
  for (let j = start; j < end; j++) if (!keepsNoReferences(list[j])) return false;
  return true;
}

function bufferOf(t: unknown): object | null {
  return t instanceof Tensor ? kernels.storageOf(t.data.data) : null;
}

/** What forward knows about the buffer of the current intermediate. */
interface Chain {
  /** Every module that produced or read the buffer keeps no reference to it, and it is not the input's. */
  private: boolean;
  /** Grad mode: the context of the call that created the buffer (released after every call reading it), else null. */
  owner: Context | null;
}

/**
 * After a module mapped `x` to `y`: recycles x's array when nothing else can reach it (at once
 * under noGrad, when its graph is released in grad mode), and returns what is known of y's buffer.
 */
function recycleDead(x: Tensor, chain: Chain, y: Tensor, safe: boolean, inputBuffer: object | null): Chain {
  const yBuffer = bufferOf(y);
  if (yBuffer === null) return { private: false, owner: null };
  if (yBuffer === bufferOf(x)) return { private: chain.private && safe, owner: chain.owner };
  if (chain.private && safe) {
    if (tracer.blind) tracer.recycle(x.data.data);
    else if (chain.owner !== null) tracer.keepPrivate(chain.owner, x.data.data);
  }
  return { private: safe && yBuffer !== inputBuffer, owner: tracer.blind ? null : arrayCreator(y) };
}
