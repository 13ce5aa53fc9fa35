import { fusedByFuseModules } from "./fusion/fused-by-fuse-modules.js";
import { Module, type AnyModule } from "./module.js";

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Whether a container may recycle the arrays `module` reads and returns once nothing else can reach
 * them: the module's own class declares `static keepsNoReferences = true` (see Module.keepsNoReferences;
 * a declaration on a base class does not count, since a subclass may override forward or anything
 * forward calls), the instance has no forward of its own (other than the one fuseModules installs,
 * which computes its class's), and the same holds for every module below it.
 *
 * Walked on every call, not cached: a module's children are its own properties, which any assignment
 * may add or replace, and a forward may be patched onto an instance, with nothing to tell a cache.
 * The walk reads the modules registered on each (own enumerable properties holding a Module, as
 * Module.registeredModules), not an override of namedChildren,
 * without building their names: ~0.1-0.3 µs per module (modules(), which names them, took ~0.6; the
 * reference network's inference at batch 1 makes 10 walks in a 0.17 ms call).
 */
export function keepsNoReferences(module: unknown): boolean {
  if (!(module instanceof Module)) return false;
  if (!qualifiesItself(module as AnyModule)) return false;
  // A layer without submodules (most calls: Sequential asks for each child) needs no stack nor seen set.
  if (!hasSubmodule(module as AnyModule)) return true;
  const stack: AnyModule[] = [module as AnyModule];
  const seen = new Set<AnyModule>();
  while (stack.length > 0) {
    const m = stack.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    if (!qualifiesItself(m)) return false;
    const fields = m as unknown as Record<string, unknown>;
    for (const key in fields) {
      if (!hasOwn.call(fields, key)) continue;
      const value = fields[key];
      if (value instanceof Module) stack.push(value as AnyModule);
    }
  }
  return true;
}

/** The module's own class declares keepsNoReferences and no forward is patched onto the instance. */
function qualifiesItself(m: AnyModule): boolean {
  const cls = m.constructor as typeof Module;
  if (!hasOwn.call(cls, "keepsNoReferences") || cls.keepsNoReferences !== true) return false;
  return !hasOwn.call(m, "forward") || fusedByFuseModules.has(m);
}

/** Whether an own enumerable property holds a Module (as Object.values would find, without building its array). */
function hasSubmodule(m: AnyModule): boolean {
  const fields = m as unknown as Record<string, unknown>;
  for (const key in fields) if (hasOwn.call(fields, key) && fields[key] instanceof Module) return true;
  return false;
}
