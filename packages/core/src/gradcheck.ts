import ndarray from "ndarray";
import { PicoError, formatShape } from "./errors.js";
import { describe } from "./function.js";
import { copy } from "./ndarray-utils.js";
import { Generator } from "./random.js";
import { Tensor } from "./tensor.js";
import { noGrad } from "./tracer.js";

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random projection of the output. */
  seed?: number;
}

export class GradcheckError extends PicoError {
  override name = "GradcheckError";
}

/**
 * Checks the analytic gradients of `fn` against central differences, in float64.
 * Inputs are copied to float64 (those that require grad are checked). A non-scalar output is
 * projected on a fixed random vector v, so what is checked is the gradient of sum(v * fn(...)).
 * Returns true or throws a GradcheckError naming the input, the element, and both values.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): true {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new GradcheckError(`gradcheck: input ${i} must be a Tensor, but got ${describe(t)}`);
  });
  const xs = inputs.map(float64Leaf);
  const probe = fn(...xs);
  if (!(probe instanceof Tensor)) throw new GradcheckError("gradcheck: fn must return a Tensor");
  const gen = new Generator(options.seed ?? 1234);
  const v = Tensor.zeros(probe.shape, { dtype: "float64" });
  for (let i = 0; i < v.data.data.length; i++) v.data.data[i] = gen.random() * 2 - 1;
  const objective = (): number => {
    const flat = fn(...xs).toTypedArray();
    let s = 0;
    for (let i = 0; i < flat.length; i++) s += flat[i]! * v.data.data[i]!;
    return s;
  };
  if (!probe.requiresGrad) throw new GradcheckError("gradcheck: the output does not require grad; give at least one input { requiresGrad: true }");
  probe.backward(v);
  xs.forEach((x, index) => {
    if (!x.requiresGrad) return;
    const analytic = x.grad?.toTypedArray() ?? new Float64Array(x.size);
    const data = x.data;
    noGrad(() => {
      const flatIndex = (linear: number): number => {
        let offset = data.offset;
        let rest = linear;
        for (let d = data.shape.length - 1; d >= 0; d--) {
          const n = data.shape[d]!;
          offset += (rest % n) * data.stride[d]!;
          rest = Math.floor(rest / n);
        }
        return offset;
      };
      for (let i = 0; i < x.size; i++) {
        const at = flatIndex(i);
        const original = data.data[at]!;
        data.data[at] = original + eps;
        const plus = objective();
        data.data[at] = original - eps;
        const minus = objective();
        data.data[at] = original;
        const numeric = (plus - minus) / (2 * eps);
        const a = analytic[i]!;
        if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) {
          throw new GradcheckError(
            `gradcheck: gradient of input ${index} (shape ${formatShape(x.shape)}) at element ${i} ` +
              `[${unravel(i, x.shape).join(", ")}]: analytic ${a}, numeric ${numeric} (atol ${atol}, rtol ${rtol})`,
          );
        }
      }
    });
  });
  return true;
}

/**
 * A float64 leaf with the same values and, unless elements overlap (stride 0), the same memory
 * layout, so that Functions also see the transposed or offset views they were given.
 */
function float64Leaf(t: Tensor): Tensor {
  const d = t.data;
  const overlapping = d.shape.some((n, i) => n > 1 && d.stride[i] === 0);
  const data = overlapping ? copy(d, "float64") : ndarray(Float64Array.from(d.data), [...d.shape], [...d.stride], d.offset);
  return new Tensor(data, { requiresGrad: t.requiresGrad });
}

function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return out;
}
