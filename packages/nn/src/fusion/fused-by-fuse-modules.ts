/** Modules whose own `forward` property fuseModules installed (their class's forward is still what they compute). */
export const fusedByFuseModules = new WeakSet<object>();
