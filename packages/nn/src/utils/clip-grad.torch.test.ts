import { Generator, Tensor, type DType } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Parameter } from "../parameter.js";
import { clipGradNorm, clipGradValue } from "./clip-grad.js";

/** Three parameters with seeded gradients (the second without one), as torch would see them. */
function parameters(dtype: DType, scale: number): Parameter[] {
  const g = new Generator(5);
  const ps = [[3, 4], [5], [2, 3, 2]].map((shape) => new Parameter(Tensor.randn(shape, { dtype, generator: g })));
  ps[0]!.grad = Tensor.randn([3, 4], { dtype, generator: g }).mul(scale);
  ps[2]!.grad = Tensor.randn([2, 3, 2], { dtype, generator: g }).mul(scale);
  return ps;
}

async function compare(dtype: DType, scale: number, pico: (ps: Parameter[]) => number | void, torchCall: string): Promise<void> {
  const ps = parameters(dtype, scale);
  const grads = ps.map((p) => p.grad?.detach() ?? null);
  const r = await oracle().run({
    inputs: { ws: ps.map((p) => p.detach()), gs: grads },
    code: `
ps = [nn.Parameter(w.clone()) for w in ws]
for p, g in zip(ps, gs):
    p.grad = None if g is None else g.clone()
total = ${torchCall}
total = None if total is None else float(total)
out = [p.grad for p in ps]`,
    outputs: ["total", "out"],
  });
  const total = pico(ps);
  const tol = dtype === "float64" ? 1e-12 : 1e-6;
  if (total !== undefined) expect(Math.abs(total - r.number("total")) / Math.max(1, r.number("total")), "total norm").toBeLessThan(tol);
  ps.forEach((p, i) => {
    if (i === 1) return expect(p.grad).toBeNull();
    const want = r.tensor(`out.${i}`).data;
    const got = p.grad!.toTypedArray();
    want.forEach((v, j) => expect(Math.abs(got[j]! - v), `gradient ${i}[${j}]`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v))));
  });
}

describeTorch("clipGradNorm and clipGradValue vs torch.nn.utils", () => {
  for (const dtype of ["float64", "float32"] as DType[]) {
    for (const [normType, maxNorm, scale] of [
      [2, 1, 1],
      [2, 100, 1],
      [1, 0.5, 3],
      [3, 2, 1],
      [Infinity, 0.25, 1],
      [2, 0, 1],
    ] as const) {
      const torchNorm = normType === Infinity ? "float('inf')" : String(normType);
      it(`clipGradNorm maxNorm=${maxNorm} normType=${normType} ${dtype}`, () =>
        compare(dtype, scale, (ps) => clipGradNorm(ps, maxNorm, { normType }), `nn.utils.clip_grad_norm_(ps, ${maxNorm}, norm_type=${torchNorm})`));
    }
    it(`clipGradValue 0.3 ${dtype}`, () => compare(dtype, 1, (ps) => clipGradValue(ps, 0.3), "nn.utils.clip_grad_value_(ps, 0.3)"));
  }
});
