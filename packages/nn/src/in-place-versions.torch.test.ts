import { Generator, Tensor } from "@pico/core";
import { RTOL, describeTorch, expectTorchClose, oracle, torchInput, type OracleValue } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { constant, uniform } from "./init.js";
import { BatchNorm2d } from "./layers/batch-norm2d.js";
import { Linear } from "./layers/linear.js";
import type { Module } from "./module.js";

// Writes into a tensor that a graph saved, then backward: Pico raises where torch 1.13 raises
// ("modified by an inplace operation") and backpropagates where torch does, with torch's gradients.
// loadStateDict and the init functions write in place as torch's copy_ and uniform_ do; BatchNorm
// saves γ (and in evaluation the running statistics) as torch's batch_norm does.

const INPLACE = "modified by an inplace operation";

interface Scenario {
  label: string;
  /** The Pico module, from seeded weights. */
  build: () => Module<[Tensor], Tensor>;
  /** The same module in torch. */
  torch: string;
  x: number[];
  eval?: boolean;
  /** What happens between forward and backward, in Pico and in torch (`m`, `fresh`: a state dict of other weights). */
  between: (m: Module<[Tensor], Tensor>, fresh: Record<string, Tensor>) => void;
  torchBetween: string;
  /** Whether torch (and so Pico) raises. */
  raises: boolean;
}

const gen = new Generator(31);
const scenarios: Scenario[] = [
  {
    label: "Linear, loadStateDict between forward and backward",
    build: () => new Linear(3, 2, { dtype: "float64", generator: gen }),
    torch: "nn.Linear(3, 2)",
    x: [4, 3],
    between: (m, fresh) => m.loadStateDict(fresh),
    torchBetween: "m.load_state_dict(fresh)",
    raises: true,
  },
  {
    label: "Linear, init.uniform on the weight",
    build: () => new Linear(3, 2, { dtype: "float64", generator: gen }),
    torch: "nn.Linear(3, 2)",
    x: [4, 3],
    between: (m) => uniform((m as Linear).weight, -1, 1, { generator: new Generator(1) }),
    torchBetween: "nn.init.uniform_(m.weight, -1, 1)",
    raises: true,
  },
  {
    label: "Linear, init on the bias only (addmm saves no bias)",
    build: () => new Linear(3, 2, { dtype: "float64", generator: gen }),
    torch: "nn.Linear(3, 2)",
    x: [4, 3],
    between: (m) => constant((m as Linear).bias!, 0.5),
    torchBetween: "nn.init.constant_(m.bias, 0.5)",
    raises: false,
  },
  {
    label: "BatchNorm2d in evaluation, loadStateDict",
    build: () => new BatchNorm2d(3, { dtype: "float64" }),
    torch: "nn.BatchNorm2d(3)",
    x: [2, 3, 4, 4],
    eval: true,
    between: (m, fresh) => m.loadStateDict(fresh),
    torchBetween: "m.load_state_dict(fresh)",
    raises: true,
  },
  {
    label: "BatchNorm2d in evaluation, the running mean written",
    build: () => new BatchNorm2d(3, { dtype: "float64" }),
    torch: "nn.BatchNorm2d(3)",
    x: [2, 3, 4, 4],
    eval: true,
    between: (m) => constant((m as BatchNorm2d).runningMean!, 0.25),
    torchBetween: "nn.init.constant_(m.running_mean, 0.25)",
    raises: true,
  },
  {
    label: "BatchNorm2d in training, a second forward (a siamese pair) before backward",
    build: () => new BatchNorm2d(3, { dtype: "float64" }),
    torch: "nn.BatchNorm2d(3)",
    x: [2, 3, 4, 4],
    between: (m) => void m.forward(Tensor.randn([2, 3, 4, 4], { dtype: "float64", generator: new Generator(2) })),
    torchBetween: "m(second)",
    raises: false,
  },
];

describeTorch("in-place writes between forward and backward vs torch", () => {
  for (const s of scenarios) {
    it(`${s.label}: ${s.raises ? "raises" : "backpropagates"}, as torch`, async () => {
      const m = s.build();
      if (s.eval === true) m.eval();
      const initial: Record<string, OracleValue> = {};
      for (const [k, t] of Object.entries(m.stateDict())) initial[k] = torchInput(t.clone(), { requiresGrad: false });
      const fresh = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.add(1).detach()]));
      const x = Tensor.randn(s.x, { dtype: "float64", generator: new Generator(3) });
      const input = x.detach();
      input.requiresGrad = true;
      const y = m.forward(input);
      s.between(m, fresh);
      let message = "";
      try {
        y.mul(y).sum().backward();
      } catch (error) {
        message = String(error);
      }
      const r = await oracle().run({
        inputs: {
          initial,
          fresh: Object.fromEntries(Object.entries(fresh).map(([k, t]) => [k, torchInput(t, { requiresGrad: false })])),
          x: torchInput(x, { requiresGrad: false }),
          second: torchInput(Tensor.randn([2, 3, 4, 4], { dtype: "float64", generator: new Generator(2) }), { requiresGrad: false }),
        },
        code: `
m = ${s.torch}.double()
m.load_state_dict({k: v.to(torch.int64) if k.endswith('num_batches_tracked') else v for k, v in initial.items()})
fresh = {k: v.to(torch.int64) if k.endswith('num_batches_tracked') else v for k, v in fresh.items()}
${s.eval === true ? "m.eval()" : ""}
xi = x.clone().requires_grad_(True)
y = m(xi)
${s.torchBetween}
try:
    (y * y).sum().backward()
    error = ""
    grad = xi.grad
except RuntimeError as e:
    error = str(e)
    grad = None`,
        outputs: ["error", "grad"],
      });
      const torchError = r.values.error as string;
      expect(torchError.includes(INPLACE), `torch: ${torchError}`).toBe(s.raises);
      expect(message.includes(INPLACE), `Pico: ${message}`).toBe(s.raises);
      if (!s.raises) expectTorchClose(`${s.label} input gradient`, input.grad!, r.tensor("grad"), RTOL.float64);
    });
  }

  // Where torch is inconsistent (nn README, "Tested against PyTorch"): its BatchNorm updates the
  // running statistics in place without bumping their version counter, so a graph that saved them
  // backpropagates with the new values. Pico counts that write like any other and raises.
  it("a graph that saved the running mean, then a training forward: torch uses the new values, Pico raises", async () => {
    const bn = new BatchNorm2d(3, { dtype: "float64" });
    const x = Tensor.randn([2, 3], { dtype: "float64", generator: new Generator(4), requiresGrad: true });
    const y = x.mul(bn.runningMean!.reshape([1, 3])).sum();
    bn.forward(Tensor.randn([2, 3, 4, 4], { dtype: "float64", generator: new Generator(5) }).add(5));
    expect(() => y.backward()).toThrow(INPLACE);
    const r = await oracle().run({
      inputs: {},
      code: `
m = nn.BatchNorm2d(3).double()
xi = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
y = (xi * m.running_mean[None, :]).sum()
m(torch.randn(2, 3, 4, 4, dtype=torch.float64) + 5)
y.backward()
out = torch.allclose(xi.grad[0], m.running_mean) and bool((m.running_mean > 0.4).all())`,
    });
    expect(r.values.out).toBe(true);
  });
});
