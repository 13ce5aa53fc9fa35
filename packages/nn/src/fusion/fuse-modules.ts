import { ArgumentError, Tensor } from "@pico/core";
import type { AnyModule, Module } from "../module.js";
import { fusedByFuseModules } from "./fused-by-fuse-modules.js";
import { FUSION_PATTERNS, RESIDUAL_FUSION_PATTERNS, classForward, classForward2, isA, matchesAt, runFused, type ResidualFusionPattern } from "./patterns.js";
import { takeReadAlone } from "./read-alone.js";

type TensorModule = Module<[Tensor], Tensor>;

/** A fused group: its modules in call order and their dotted names; a residual group's last module takes a second operand. */
interface Group {
  modules: TensorModule[];
  names: string[];
  residual: ResidualFusionPattern | null;
}

/**
 * A fused group's output, and the index in the group of the next module the model's forward must call with
 * it; for a residual group (which runs only once its last module has the residual), the group's input and
 * whether the model declared it readAlone.
 */
const pending = new WeakMap<Tensor, { group: Group; next: number; input?: Tensor; inputAlone?: boolean }>();
const groupOf = new WeakMap<AnyModule, Group>();

/**
 * Fuses runs of a model's submodules, named by their dotted paths, as torch.ao.quantization.fuse_modules
 * does: `fuseModules(model, [["conv1", "bn1", "relu1"], ["block.conv", "block.bn"]])`. Each group must be
 * the classes of one pattern of FUSION_PATTERNS (fusion/patterns.ts), in order, and the model's forward
 * must call the group's modules one after the other, each on the previous one's output, that output
 * used nowhere else (the contract of PyTorch's fuse_modules). The group's first module then computes the
 * whole group, fused (or module by module where the pattern declines the input), and the others hand that
 * result on; calling them out of order throws. Unlike PyTorch's, the module tree, parameters, state-dict
 * keys and train/eval switching are untouched, and unfuseModules undoes it. A Sequential needs none of
 * this: it applies the same patterns itself (Sequential.fusion). A forward that knows a group's input is
 * read by that group alone says so with readAlone (fusion/read-alone.ts), so that the group's backward may
 * hand its input gradient on in the kernel module. A residual group (ending with AddReLU) runs nothing until
 * its last module is called with the residual (as either operand): the modules before it hand on a stand-in
 * with their output's shape and dtype but no values, which may only be passed on to the group's next module
 * (reading its values, with any operator or toArray, throws). Returns the model.
 */
export function fuseModules<M extends AnyModule>(model: M, groups: readonly (readonly string[])[]): M {
  const byName = new Map(model.namedModules().filter(([name]) => name !== ""));
  const planned: Group[] = [];
  const claimed = new Set<AnyModule>();
  if (!Array.isArray(groups)) throw new ArgumentError(`fuseModules: groups must be an array of arrays of module names, but got ${typeof groups}`);
  for (const names of groups) {
    if (!Array.isArray(names) || names.length < 2) {
      throw new ArgumentError(`fuseModules: each group must list at least 2 module names, but got ${JSON.stringify(names)}`);
    }
    const modules = names.map((name: unknown) => {
      const m = typeof name === "string" ? byName.get(name) : undefined;
      if (m === undefined) {
        throw new ArgumentError(`fuseModules: the model has no submodule ${JSON.stringify(name)} (its submodules: ${[...byName.keys()].join(", ")})`);
      }
      if (claimed.has(m) || groupOf.has(m)) throw new ArgumentError(`fuseModules: module ${JSON.stringify(name)} is already in a fused group`);
      claimed.add(m);
      return m as TensorModule;
    });
    const pattern = FUSION_PATTERNS.find((p) => p.sequence.length === modules.length && matchesAt(p, modules, 0));
    const residual = RESIDUAL_FUSION_PATTERNS.find((p) => p.sequence.length + 1 === modules.length && matchesAt(p, modules, 0) && isA(modules.at(-1), p.last));
    if (pattern === undefined && residual === undefined) {
      const got = modules.map((m) => m.constructor.name).join(" → ");
      const all = [...FUSION_PATTERNS, ...RESIDUAL_FUSION_PATTERNS].map((p) => p.name).join("; ");
      throw new ArgumentError(`fuseModules: group ${JSON.stringify(names)} is ${got}, which is not a fusion pattern; the patterns are: ${all}`);
    }
    planned.push({ modules, names: [...names], residual: pattern === undefined ? residual! : null });
  }
  for (const group of planned) install(group);
  return model;
}

/** Undoes fuseModules for every fused group inside `model` (the model included); returns the model. */
export function unfuseModules<M extends AnyModule>(model: M): M {
  for (const m of model.modules()) {
    if (!groupOf.has(m)) continue;
    groupOf.delete(m);
    fusedByFuseModules.delete(m);
    delete (m as { forward?: unknown }).forward;
  }
  return model;
}

/** The dotted names of the fused groups inside `model`, in the order of its modules. */
export function fusedGroups(model: AnyModule): string[][] {
  const seen = new Set<Group>();
  const out: string[][] = [];
  for (const m of model.modules()) {
    const group = groupOf.get(m);
    if (group !== undefined && !seen.has(group)) {
      seen.add(group);
      out.push([...group.names]);
    }
  }
  return out;
}

function install(group: Group): void {
  const [head, ...rest] = group.modules;
  const { residual } = group;
  define(head!, (input) => {
    if (residual !== null) {
      // Nothing runs yet: the modules before the last pass on a stand-in, which has no values.
      const standIn = standInFor(group, residual, input);
      pending.set(standIn, { group, next: 1, input, inputAlone: takeReadAlone(input) });
      return standIn;
    }
    const output = runFused(group.modules, input, FUSION_PATTERNS, takeReadAlone(input));
    pending.set(output, { group, next: 1 });
    return output;
  });
  rest.forEach((m, k) => {
    const index = k + 1;
    const due = (mark: { next: number }): void => {
      if (mark.next === index) return;
      const when = mark.next < group.names.length ? `${group.names[mark.next]} was due` : "the group had already run to its end";
      throw new ArgumentError(
        `fuseModules: ${group.names[index]} was called on the output of the fused group ${JSON.stringify(group.names)} when ${when}; ` +
          `a fused group's modules must be called in the group's order`,
      );
    };
    if (residual !== null && index === group.modules.length - 1) {
      const last = m as unknown as Module<[Tensor, Tensor], Tensor>;
      define(last, (a: Tensor, b: Tensor) => {
        let mark = pending.get(a);
        if (mark?.group !== group && pending.get(b)?.group === group) {
          // relu(a + b) is symmetric: the group's output may come as either operand (addRelu(identity, out)).
          [a, b] = [b, a];
          mark = pending.get(a);
        }
        if (mark === undefined || mark.group !== group) return classForward2(last, a, b);
        due(mark);
        mark.next = index + 1;
        const before = group.modules.slice(0, -1);
        const fused = residual.forward(before, last, mark.input!, b, mark.inputAlone);
        if (fused !== null) return fused;
        let x = mark.input!;
        for (const module of before) x = classForward(module, x);
        return classForward2(last, x, b);
      });
      return;
    }
    define(m, (input) => {
      const mark = pending.get(input);
      if (mark === undefined || mark.group !== group) return classForward(m, input);
      due(mark);
      mark.next = index + 1;
      return input;
    });
  });
  for (const m of group.modules) groupOf.set(m, group);
}

/**
 * What a residual group's modules before the last hand on in place of their output, which is computed only
 * once the last module has the residual: a tensor of that output's shape and dtype whose values (`data`, so
 * any operator, `toArray`, ...) cannot be read, since a read would see no output of these modules.
 */
function standInFor(group: Group, pattern: ResidualFusionPattern, input: Tensor): Tensor {
  const standIn = new Tensor(input.data);
  const refuse = (what: string): never => {
    const next = pending.get(standIn)?.next ?? 1;
    const names = group.names;
    const last = names.at(-1)!;
    const when = next < names.length ? `before ${last} was called with it` : `which is not the group's output (${last} returned that)`;
    throw new ArgumentError(
      `fuseModules: the output of ${names[Math.min(next, names.length - 1) - 1]} in the fused residual group ${JSON.stringify(names)} was read (${what}) ${when}; ` +
        `such a group computes nothing until its last module has the residual, so the output of ${names.at(-2)} may only be passed to ${last} ` +
        `(as either operand); read ${last}'s result instead, or leave this group out of fuseModules`,
    );
  };
  let shape: number[] | null | undefined;
  const knownShape = (): number[] => {
    shape ??= pattern.outputShape(group.modules.slice(0, -1), input);
    return shape ?? refuse("its shape, for an input these modules refuse");
  };
  Object.defineProperties(standIn, {
    data: { get: () => refuse("its values"), configurable: true },
    shape: { get: () => [...knownShape()], configurable: true },
    ndim: { get: () => knownShape().length, configurable: true },
    size: { get: () => knownShape().reduce((a, b) => a * b, 1), configurable: true },
    dtype: { value: input.dtype, configurable: true },
  });
  return standIn;
}

function define<In extends Tensor[]>(m: Module<In, Tensor>, forward: (...inputs: In) => Tensor): void {
  fusedByFuseModules.add(m);
  Object.defineProperty(m, "forward", { configurable: true, writable: true, value: forward });
}
