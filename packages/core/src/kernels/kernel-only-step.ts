import { optimizerJs, optimizerKernels, optimizerWasm } from "./optimizer.js";

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Whether `optimizer.step()` is a step that changes parameters and state only through core's "optimizer"
 * kernels as registered, and keeps no reference to a gradient past those calls: its own class (not a base)
 * declares `static splittableStep = true` (the promise; see @pico/optim's Optimizer.splittableStep), the
 * instance's prototype is that class's own, the step and updateParameter it would run are the class's (not
 * the instance's own, nor a Proxy's or a swapped prototype's), and the "optimizer" kernel that resolves is
 * the one core registers for its backend (optimizerJs for "js", optimizerWasm for "wasm"): a user's kernel,
 * put in with override or with register over a backend, may keep what it is given, and a replica, which
 * resolves in its own thread, would run core's kernel of that backend, not the one overridden here. @pico/optim's Optimizer.step then reads each `.grad`
 * with peekGrad, and @pico/nn's DataParallel may split the update across its replicas: one rule for both.
 */
export function kernelOnlyStep(optimizer: object): boolean {
  const cls = (optimizer as { constructor?: unknown }).constructor;
  if (typeof cls !== "function" || !hasOwn.call(cls, "splittableStep")) return false;
  if ((cls as { splittableStep?: unknown }).splittableStep !== true) return false;
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
