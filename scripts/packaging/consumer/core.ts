// Runs in a fresh project that installed only the packed @pico/core: autograd, a custom Function,
// gradcheck and the Tracer, through the public entry. Prints one JSON line for the test to check.
import { Function, ShapeError, Tensor, gradcheck, kernels, manualSeed, noGrad, tensor, tracer, type Context, type NDArray } from "@pico/core";

class ScaledSquare extends Function {
  static override forward(ctx: Context & { scale: number }, x: NDArray, scale: number): NDArray {
    ctx.saveForBackward(x);
    ctx.scale = scale;
    return kernels.affine(kernels.unary("square", x), scale);
  }
  static override backward(ctx: Context & { scale: number }, g: NDArray): [NDArray, null] {
    const [x] = ctx.savedTensors;
    return [kernels.binary("mul", g, kernels.affine(x!, 2 * ctx.scale)), null];
  }
}

const baseline = tracer.stats();

const a = tensor(2, { requiresGrad: true });
const b = tensor(3, { requiresGrad: true });
const x = a.mul(b);
x.add(x).backward();

const A = tensor(2.5, { requiresGrad: true });
const B = tensor(0.5, { requiresGrad: true });
A.div(B).backward();

manualSeed(7);
const w = Tensor.randn([3, 5], { dtype: "float64", requiresGrad: true });
const v = Tensor.randn([4, 3], { dtype: "float64", requiresGrad: true });
const graphChecked = gradcheck((p, q) => p.matmul(q).tanh().mul(q.sum()).sum(), [v, w]);

const c = tensor([1, -2, 3], { dtype: "float64", requiresGrad: true });
const customChecked = gradcheck((t) => ScaledSquare.apply(t, 0.5), [c]);
const custom = ScaledSquare.apply(c, 0.5);
custom.sum().backward();

const before = tracer.stats();
noGrad(() => Tensor.randn([8, 8]).relu().matmul(Tensor.randn([8, 2])));
const afterNoGrad = tracer.stats();

let shapeError = "";
try {
  tensor([1, 2, 3]).add(tensor([1, 2]));
} catch (error) {
  if (error instanceof ShapeError) shapeError = error.message;
}

console.log(
  JSON.stringify({
    aGrad: a.grad?.item(),
    bGrad: b.grad?.item(),
    AGrad: A.grad?.item(),
    BGrad: B.grad?.item(),
    graphChecked,
    customChecked,
    customForward: custom.toArray(),
    customGrad: c.grad?.toArray(),
    recordedUnderNoGrad: afterNoGrad.funcs - before.funcs,
    funcsLeft: tracer.stats().funcs - baseline.funcs,
    shapeError,
  }),
);
