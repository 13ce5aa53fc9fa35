import type { Tensor } from "@pico/core";

const declared = new WeakSet<Tensor>();

/**
 * Returns `t`, declared by a model's forward that knows it to be read by nothing but the next module it
 * calls on it (a fused group's first module, see fuseModules): `t`'s gradient then comes from that group
 * alone, and the group's patterns may leave it in the kernel module for the backward of what made `t`
 * (FusionPattern.forward's inputAlone). The declaration is used up by the first group that reads `t`.
 */
export function readAlone(t: Tensor): Tensor {
  declared.add(t);
  return t;
}

/** Whether `t` was declared by readAlone, using the declaration up. */
export function takeReadAlone(t: Tensor): boolean {
  return declared.delete(t);
}
