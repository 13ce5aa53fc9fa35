import { optimizerJs, optimizerKernels, optimizerWasm } from "./optimizer.js";

const hasOwn = Object.prototype.hasOwnProperty;

// An optimizer class makes two separate promises about its step, each a static flag of its own class
// (@pico/optim's Optimizer documents them; SGD, Momentum, Adam and AdamW declare both):
// - `splittableStep`: the step changes parameters and state only through core's "optimizer" kernels and
//   reads none of them back within the step, so @pico/nn's DataParallel may run the recorded kernel calls
//   later, split across its replicas (kernelOnlyStep);
// - `stepKeepsNoGrad`: the step keeps no reference to a gradient past the step, so @pico/optim's
//   Optimizer.step may read each `.grad` with peekGradForStep, and the engine may recycle the array once
//   zeroGrad drops it (stepKeepsNoGrad).
// Each holds only for the class that declares it (a subclass may override step or updateParameter), for
// an instance without its own step or updateParameter, and while the "optimizer" kernel that resolves is
// the one core registers for its backend (optimizerJs for "js", optimizerWasm for "wasm"): a user's
// kernel, put in with override or with register over a backend, may keep what it is given, and a
// replica, which resolves in its own thread, would run core's kernel of that backend, not the one here.

/**
 * Whether `optimizer.step()` changes parameters and state only through core's "optimizer" kernels as
 * registered: its own class declares `static splittableStep = true`, and its step, updateParameter and
 * the kernel that resolves are as above. @pico/nn's DataParallel splits the update across its replicas
 * only then. It says nothing of whether the step keeps a gradient: see stepKeepsNoGrad.
 */
export function kernelOnlyStep(optimizer: object): boolean {
  return declaresOwn(optimizer, "splittableStep");
}

/**
 * Whether `optimizer.step()` keeps no reference to a gradient (its tensor, ndarray or array) once it
 * returns: its own class declares `static stepKeepsNoGrad = true`, and its step, updateParameter and the
 * kernel that resolves are as above. @pico/optim's Optimizer.step then reads each `.grad` with
 * peekGradForStep (not the getter), so a `.grad` only backward made goes back to the buffer pool when
 * zeroGrad drops it and becomes the next backward's gradient.
 */
export function stepKeepsNoGrad(optimizer: object): boolean {
  return declaresOwn(optimizer, "stepKeepsNoGrad");
}

/** `flag` is true on the optimizer's own class, which runs its step and updateParameter unchanged over core's own optimizer kernel. */
function declaresOwn(optimizer: object, flag: "splittableStep" | "stepKeepsNoGrad"): boolean {
  const cls = (optimizer as { constructor?: unknown }).constructor;
  if (typeof cls !== "function" || !hasOwn.call(cls, flag)) return false;
  if ((cls as unknown as Record<string, unknown>)[flag] !== true) return false;
  const proto = (cls as { prototype?: unknown }).prototype as Record<string, unknown> | undefined;
  if (proto === undefined || Object.getPrototypeOf(optimizer) !== proto) return false;
  const methods = optimizer as Record<string, unknown>;
  const { backend, kernel } = optimizerKernels.resolve();
  return (
    !hasOwn.call(optimizer, "step") &&
    !hasOwn.call(optimizer, "updateParameter") &&
    methods["step"] === proto["step"] &&
    methods["updateParameter"] === proto["updateParameter"] &&
    ((backend === "js" && kernel === optimizerJs) || (backend === "wasm" && kernel === optimizerWasm))
  );
}
