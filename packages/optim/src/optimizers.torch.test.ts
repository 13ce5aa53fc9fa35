import { Generator, Tensor, noGrad, tensor, type DType } from "@pico/core";
import { RTOL, describeTorch, oracle, torchInput, type OracleValue, expectTorchClose } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Adam } from "./adam.js";
import { AdamW } from "./adamw.js";
import { Momentum } from "./momentum.js";
import type { Optimizer, ParamGroupInput } from "./optimizer.js";
import { SGD } from "./sgd.js";

// Every optimizer with every option, over STEPS steps and two parameter groups with different options,
// against torch.optim from the same parameters and the same gradients. The gradient of each step is
// g = a ⊙ p + b_t (a quadratic loss with a moving linear term), computed on both sides from the current
// parameters; the third parameter gets no gradient on some steps (torch and Pico then skip it, and its
// Adam step count lags). Parameters are compared after every step, the optimizer state at the end.
// torch runs zero_grad(set_to_none=True), which is what Pico's zeroGrad() does (torch 2's default;
// torch 1.13's zero_grad() fills zeros instead, so a parameter left without a gradient would still move).

const STEPS = 12;
/** Parameter 0 has 1,200 elements: in float32 it takes the WebAssembly kernel (from 1,024 on), the others the loops. */
const SHAPES = [[40, 30], [4], [2, 2, 3]];
/** Steps on which parameter 2 has no gradient. */
const SKIPPED = [2, 7];

type Options = Record<string, number | boolean | number[]>;

interface Case {
  optimizer: "SGD" | "Momentum" | "Adam" | "AdamW";
  /** Options of the optimizer (its defaults), then of the second group's overrides. */
  defaults: Options;
  group2: Options;
}

const TORCH_NAMES: Record<string, string> = { lr: "lr", momentum: "momentum", dampening: "dampening", nesterov: "nesterov", weightDecay: "weight_decay", betas: "betas", eps: "eps", amsgrad: "amsgrad", maximize: "maximize" };
const TORCH_CLASS = { SGD: "SGD", Momentum: "SGD", Adam: "Adam", AdamW: "AdamW" } as const;
const TORCH_STATE: Record<string, string> = { momentumBuffer: "momentum_buffer", expAvg: "exp_avg", expAvgSq: "exp_avg_sq", maxExpAvgSq: "max_exp_avg_sq" };

function pyOptions(o: Options): string {
  return `{${Object.entries(o)
    .map(([k, v]) => `'${TORCH_NAMES[k]}': ${typeof v === "boolean" ? (v ? "True" : "False") : Array.isArray(v) ? `(${v.join(", ")})` : v}`)
    .join(", ")}}`;
}

const cases: Case[] = [
  { optimizer: "SGD", defaults: { lr: 0.1 }, group2: { lr: 0.03 } },
  { optimizer: "SGD", defaults: { lr: 0.1, weightDecay: 0.05 }, group2: { weightDecay: 0 } },
  { optimizer: "SGD", defaults: { lr: 0.05, momentum: 0.9 }, group2: { momentum: 0 } },
  { optimizer: "SGD", defaults: { lr: 0.05, momentum: 0.9, dampening: 0.3 }, group2: { dampening: 0, lr: 0.1 } },
  { optimizer: "SGD", defaults: { lr: 0.05, momentum: 0.9, nesterov: true }, group2: { momentum: 0.5 } },
  { optimizer: "SGD", defaults: { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.1 }, group2: { nesterov: false, dampening: 0.5 } },
  { optimizer: "Momentum", defaults: { lr: 0.05 }, group2: { nesterov: true, weightDecay: 0.01 } },
  { optimizer: "SGD", defaults: { lr: 0.05, maximize: true }, group2: { momentum: 0.9, nesterov: true, weightDecay: 0.1 } },
  { optimizer: "Momentum", defaults: { lr: 0.02, maximize: true, dampening: 0.2 }, group2: { maximize: false } },
  { optimizer: "Adam", defaults: {}, group2: { lr: 0.01 } },
  { optimizer: "Adam", defaults: { lr: 0.01, betas: [0.8, 0.99], eps: 1e-3 }, group2: { betas: [0.5, 0.9] } },
  { optimizer: "Adam", defaults: { lr: 0.01, weightDecay: 0.1 }, group2: { weightDecay: 0 } },
  { optimizer: "Adam", defaults: { lr: 0.01, amsgrad: true }, group2: { amsgrad: false } },
  { optimizer: "Adam", defaults: { lr: 0.02, amsgrad: true, weightDecay: 0.05, betas: [0.9, 0.95] }, group2: { lr: 0.005, eps: 1e-6 } },
  { optimizer: "AdamW", defaults: {}, group2: { lr: 0.01 } },
  { optimizer: "AdamW", defaults: { lr: 0.01, weightDecay: 0.1 }, group2: { weightDecay: 0 } },
  { optimizer: "AdamW", defaults: { lr: 0.01, amsgrad: true, betas: [0.85, 0.98] }, group2: { amsgrad: false, eps: 1e-4 } },
  { optimizer: "Adam", defaults: { lr: 0.01, maximize: true, weightDecay: 0.1 }, group2: { amsgrad: true } },
  { optimizer: "AdamW", defaults: { lr: 0.01, maximize: true, amsgrad: true }, group2: { maximize: false, weightDecay: 0.2 } },
];

/** Momentum's defaults in torch terms (torch.optim.SGD defaults momentum to 0). */
const torchDefaults = (c: Case): Options => (c.optimizer === "Momentum" ? { momentum: 0.9, ...c.defaults } : c.defaults);

function build(c: Case, groups: ParamGroupInput<{ lr: number }>[]): Optimizer {
  const o = c.defaults as never;
  switch (c.optimizer) {
    case "SGD":
      return new SGD(groups as never, o);
    case "Momentum":
      return new Momentum(groups as never, o);
    case "Adam":
      return new Adam(groups as never, o);
    case "AdamW":
      return new AdamW(groups as never, o);
  }
}

async function runCase(c: Case, dtype: DType): Promise<void> {
  const gen = new Generator(3);
  const init = SHAPES.map((s) => Tensor.randn(s, { dtype, generator: gen }));
  const scales = SHAPES.map((s) => Tensor.rand(s, { dtype, generator: gen }).add(0.5));
  const shifts = Array.from({ length: STEPS }, () => SHAPES.map((s) => Tensor.randn(s, { dtype, generator: gen })));
  const params = init.map((t) => {
    const p = t.clone();
    p.requiresGrad = true;
    return p;
  });
  const opt = build(c, [{ params: [params[0]!] }, { params: [params[1]!, params[2]!], ...c.group2 }]);
  const history: Tensor[][] = [];
  for (let t = 0; t < STEPS; t++) {
    opt.zeroGrad();
    params.forEach((p, i) => {
      if (i === 2 && SKIPPED.includes(t)) return;
      p.grad = noGrad(() => p.detach().mul(scales[i]!).add(shifts[t]![i]!));
    });
    opt.step();
    history.push(params.map((p) => p.detach().clone()));
  }
  const inputs: Record<string, OracleValue> = {
    init: init.map((t) => torchInput(t)),
    scales: scales.map((t) => torchInput(t)),
    shifts: shifts.map((row) => row.map((t) => torchInput(t))),
  };
  const r = await oracle().run({
    inputs,
    code: `
params = [t.clone().requires_grad_(True) for t in init]
opt = torch.optim.${TORCH_CLASS[c.optimizer]}([{'params': [params[0]]}, {'params': [params[1], params[2]], **${pyOptions(c.group2)}}], **${pyOptions(torchDefaults(c))})
history = []
for t in range(${STEPS}):
    opt.zero_grad(set_to_none=True)
    for i, p in enumerate(params):
        if i == 2 and t in (${SKIPPED.join(", ")}):
            continue
        p.grad = p.detach() * scales[i] + shifts[t][i]
    opt.step()
    history.append([p.detach().clone() for p in params])
state = [{k: (float(v) if k == 'step' else v) for k, v in opt.state[p].items() if v is not None} for p in params]`,
    outputs: ["history", "state"],
  });
  const label = `${c.optimizer} ${JSON.stringify(c.defaults)} group2 ${JSON.stringify(c.group2)} ${dtype}`;
  const rtol = RTOL[dtype];
  for (let t = 0; t < STEPS; t++) {
    for (let i = 0; i < params.length; i++) expectTorchClose(`${label} step ${t + 1} param ${i}`, history[t]![i]!, r.tensor(`history.${t}.${i}`), rtol);
  }
  const torchState = r.values.state as Record<string, unknown>[];
  params.forEach((p, i) => {
    const mine = (opt.state.get(p) ?? {}) as Record<string, Tensor | number>;
    const theirs = torchState[i]!;
    const keys = Object.keys(mine).map((k) => (k === "step" ? "step" : TORCH_STATE[k] ?? k));
    expect(keys.sort(), `${label} state keys of param ${i}`).toEqual(Object.keys(theirs).sort());
    for (const [k, v] of Object.entries(mine)) {
      if (typeof v === "number") expect(v, `${label} ${k} of param ${i}`).toBe(theirs[k]);
      else expectTorchClose(`${label} ${k} of param ${i}`, v, r.tensor(`state.${i}.${TORCH_STATE[k]}`), rtol);
    }
  });
}

describeTorch("optimizers vs torch.optim: every option, two parameter groups, 12 steps", () => {
  for (const c of cases) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${c.optimizer} ${JSON.stringify(c.defaults)} group 2 ${JSON.stringify(c.group2)} ${dtype}`, () => runCase(c, dtype));
    }
  }
});

describeTorch("optimizers vs torch.optim: a non-finite parameter without weight decay stays as torch leaves it", () => {
  const makers: Array<[string, (p: Tensor[]) => Optimizer, string]> = [
    ["SGD", (p) => new SGD(p, { lr: 0.1 }), "torch.optim.SGD([p], lr=0.1)"],
    ["SGD momentum", (p) => new SGD(p, { lr: 0.1, momentum: 0.9 }), "torch.optim.SGD([p], lr=0.1, momentum=0.9)"],
    ["Adam", (p) => new Adam(p, { lr: 0.1 }), "torch.optim.Adam([p], lr=0.1)"],
    ["AdamW weightDecay 0", (p) => new AdamW(p, { lr: 0.1, weightDecay: 0 }), "torch.optim.AdamW([p], lr=0.1, weight_decay=0)"],
  ];
  for (const [name, make, torchMake] of makers) {
    it(`${name}: infinities and NaN in the parameter, finite gradient, 3 steps`, async () => {
      const init = tensor([Infinity, -Infinity, Number.NaN, 1.5]);
      const p = tensor(init, { requiresGrad: true });
      const opt = make([p]);
      for (let t = 0; t < 3; t++) {
        p.grad = tensor([0.5, -0.25, 1, 2]);
        opt.step();
      }
      const r = await oracle().run({
        inputs: { init: torchInput(init) },
        code: `
p = init.clone().requires_grad_(True)
opt = ${torchMake}
for t in range(3):
    p.grad = torch.tensor([0.5, -0.25, 1.0, 2.0], dtype=init.dtype)
    opt.step()
out = p.detach()`,
        outputs: ["out"],
      });
      expectTorchClose(`${name} non-finite parameter`, p.detach(), r.tensor("out"), RTOL.float32);
    });
  }
});
