import { Generator, Tensor } from "@pico/core";
import { RTOL, describeTorch, oracle, torchInput, expectTorchClose } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Adam } from "../adam.js";
import { AdamW } from "../adamw.js";
import type { Optimizer } from "../optimizer.js";
import { SGD } from "../sgd.js";
import { CosineAnnealingLR } from "./cosine-annealing-lr.js";
import { LinearWarmup } from "./linear-warmup.js";
import type { LRScheduler } from "./lr-scheduler.js";
import { MultiStepLR } from "./multi-step-lr.js";
import { OneCycleLR } from "./one-cycle-lr.js";
import { StepLR } from "./step-lr.js";

// Every scheduler's whole sequence against torch.optim.lr_scheduler, on two parameter groups with
// different lrs: the lr of each group after the constructor and after every step (and, for OneCycleLR,
// the momentum or Adam's beta1 it cycles). A schedule that torch stops (OneCycleLR past totalSteps) must
// stop Pico at the same step.

interface Case {
  label: string;
  optimizer: "SGD" | "SGD momentum" | "Adam";
  pico: (opt: Optimizer) => LRScheduler;
  torch: string;
  steps: number;
}

const LRS = [0.1, 0.02];

const cases: Case[] = [
  { label: "StepLR stepSize 3 gamma 0.5", optimizer: "SGD", pico: (o) => new StepLR(o, { stepSize: 3, gamma: 0.5 }), torch: "StepLR(opt, step_size=3, gamma=0.5)", steps: 20 },
  { label: "StepLR default gamma", optimizer: "Adam", pico: (o) => new StepLR(o, { stepSize: 4 }), torch: "StepLR(opt, step_size=4)", steps: 15 },
  {
    label: "MultiStepLR milestones 2, 5, 9 gamma 0.3",
    optimizer: "SGD",
    pico: (o) => new MultiStepLR(o, { milestones: [2, 5, 9], gamma: 0.3 }),
    torch: "MultiStepLR(opt, milestones=[2, 5, 9], gamma=0.3)",
    steps: 14,
  },
  { label: "MultiStepLR repeated milestone", optimizer: "SGD", pico: (o) => new MultiStepLR(o, { milestones: [3, 3, 6] }), torch: "MultiStepLR(opt, milestones=[3, 3, 6])", steps: 9 },
  { label: "CosineAnnealingLR tMax 10 (three periods)", optimizer: "SGD", pico: (o) => new CosineAnnealingLR(o, { tMax: 10 }), torch: "CosineAnnealingLR(opt, T_max=10)", steps: 30 },
  {
    label: "CosineAnnealingLR tMax 7 etaMin 0.001",
    optimizer: "Adam",
    pico: (o) => new CosineAnnealingLR(o, { tMax: 7, etaMin: 0.001 }),
    torch: "CosineAnnealingLR(opt, T_max=7, eta_min=0.001)",
    steps: 25,
  },
  {
    label: "LinearWarmup (torch's LinearLR) 5 steps from 1/4",
    optimizer: "SGD",
    pico: (o) => new LinearWarmup(o, { warmupSteps: 5, startFactor: 0.25 }),
    torch: "LinearLR(opt, start_factor=0.25, total_iters=5)",
    steps: 9,
  },
  { label: "LinearWarmup default start factor", optimizer: "Adam", pico: (o) => new LinearWarmup(o, { warmupSteps: 3 }), torch: "LinearLR(opt, total_iters=3)", steps: 6 },
  { label: "OneCycleLR cos, SGD momentum", optimizer: "SGD momentum", pico: (o) => new OneCycleLR(o, { maxLr: 1, totalSteps: 20 }), torch: "OneCycleLR(opt, max_lr=1, total_steps=20)", steps: 20 },
  {
    label: "OneCycleLR linear, epochs × stepsPerEpoch, per-group maxLr",
    optimizer: "SGD momentum",
    pico: (o) => new OneCycleLR(o, { maxLr: [0.5, 0.2], epochs: 3, stepsPerEpoch: 7, anneal: "linear" }),
    torch: "OneCycleLR(opt, max_lr=[0.5, 0.2], epochs=3, steps_per_epoch=7, anneal_strategy='linear')",
    steps: 21,
  },
  {
    label: "OneCycleLR three phases, cos",
    optimizer: "SGD momentum",
    pico: (o) => new OneCycleLR(o, { maxLr: 0.8, totalSteps: 25, threePhase: true, pctStart: 0.25 }),
    torch: "OneCycleLR(opt, max_lr=0.8, total_steps=25, three_phase=True, pct_start=0.25)",
    steps: 25,
  },
  {
    label: "OneCycleLR three phases, linear, custom factors and momenta",
    optimizer: "SGD momentum",
    pico: (o) =>
      new OneCycleLR(o, { maxLr: 0.8, totalSteps: 16, threePhase: true, anneal: "linear", divFactor: 10, finalDivFactor: 100, baseMomentum: [0.7, 0.8], maxMomentum: 0.99 }),
    torch: "OneCycleLR(opt, max_lr=0.8, total_steps=16, three_phase=True, anneal_strategy='linear', div_factor=10, final_div_factor=100, base_momentum=[0.7, 0.8], max_momentum=0.99)",
    steps: 16,
  },
  {
    label: "OneCycleLR with Adam cycles beta1",
    optimizer: "Adam",
    pico: (o) => new OneCycleLR(o, { maxLr: 0.01, totalSteps: 12, pctStart: 0.5 }),
    torch: "OneCycleLR(opt, max_lr=0.01, total_steps=12, pct_start=0.5)",
    steps: 12,
  },
  {
    label: "OneCycleLR without momentum cycling",
    optimizer: "SGD",
    pico: (o) => new OneCycleLR(o, { maxLr: 0.3, totalSteps: 10, cycleMomentum: false }),
    torch: "OneCycleLR(opt, max_lr=0.3, total_steps=10, cycle_momentum=False)",
    steps: 10,
  },
  {
    label: "OneCycleLR cycling momentum on an SGD built without it",
    optimizer: "SGD",
    pico: (o) => new OneCycleLR(o, { maxLr: 0.3, totalSteps: 10 }),
    torch: "OneCycleLR(opt, max_lr=0.3, total_steps=10)",
    steps: 10,
  },
];

function build(kind: Case["optimizer"]): Optimizer {
  const groups = LRS.map((lr) => ({ params: [Tensor.zeros([2], { requiresGrad: true })], lr }));
  if (kind === "Adam") return new Adam(groups);
  return new SGD(groups, { lr: 0.1, momentum: kind === "SGD momentum" ? 0.9 : 0 });
}

function torchOptimizer(kind: Case["optimizer"]): string {
  const groups = `[${LRS.map((lr) => `{'params': [torch.zeros(2, requires_grad=True)], 'lr': ${lr}}`).join(", ")}]`;
  if (kind === "Adam") return `torch.optim.Adam(${groups})`;
  return `torch.optim.SGD(${groups}, lr=0.1, momentum=${kind === "SGD momentum" ? 0.9 : 0})`;
}

/** The lr of each group, then its momentum (or beta1), after the constructor and after each step; null once a step throws. */
function picoTrace(c: Case): { lrs: number[][]; momenta: number[][]; stoppedAt: number | null } {
  const opt = build(c.optimizer);
  const sched = c.pico(opt);
  const lrs: number[][] = [];
  const momenta: number[][] = [];
  const record = (): void => {
    lrs.push(opt.paramGroups.map((g) => g.lr));
    momenta.push(opt.paramGroups.map((g) => ("betas" in g ? (g.betas as number[])[0]! : (g as unknown as { momentum: number }).momentum)));
  };
  record();
  for (let t = 1; t < c.steps + 2; t++) {
    opt.step();
    try {
      sched.step();
    } catch {
      return { lrs, momenta, stoppedAt: t };
    }
    record();
  }
  return { lrs, momenta, stoppedAt: null };
}

describeTorch("LR schedulers vs torch.optim.lr_scheduler: the whole sequence", () => {
  for (const c of cases) {
    it(c.label, async () => {
      const mine = picoTrace(c);
      const r = await oracle().run({
        code: `
import warnings
warnings.simplefilter('ignore')
opt = ${torchOptimizer(c.optimizer)}
sched = torch.optim.lr_scheduler.${c.torch}
def momenta():
    return [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]
lrs, moms, stopped = [[g['lr'] for g in opt.param_groups]], [momenta()], None
for t in range(1, ${c.steps + 2}):
    opt.step()
    try:
        sched.step()
    except ValueError:
        stopped = t
        break
    lrs.append([g['lr'] for g in opt.param_groups])
    moms.append(momenta())
last = sched.get_last_lr()`,
        outputs: ["lrs", "moms", "stopped", "last"],
      });
      const lrs = r.values.lrs as number[][];
      const moms = r.values.moms as number[][];
      expect(mine.stoppedAt, `${c.label}: the step that throws`).toBe(r.values.stopped);
      expect(mine.lrs.length).toBe(lrs.length);
      expectTorchClose(`${c.label} lrs`, mine.lrs.flat(), lrs.flat(), RTOL.float64);
      expectTorchClose(`${c.label} momentum or beta1`, mine.momenta.flat(), moms.flat(), RTOL.float64);
      expectTorchClose(`${c.label} last lr`, mine.lrs.at(-1)!, r.values.last as number[], RTOL.float64);
    });
  }
});

// The schedule driving real updates: lr and momentum (or Adam's beta1, which also enters Adam's bias
// correction) change every step, and the parameters must follow torch's.
describeTorch("a scheduler driving an optimizer vs torch: parameters after every step", () => {
  const drives: [string, (p: Tensor[]) => [Optimizer, LRScheduler], string, string][] = [
    [
      "Adam + OneCycleLR (beta1 cycles)",
      (p) => {
        const opt = new Adam(p, { lr: 0.01 });
        return [opt, new OneCycleLR(opt, { maxLr: 0.05, totalSteps: 15 })];
      },
      "torch.optim.Adam(params, lr=0.01)",
      "OneCycleLR(opt, max_lr=0.05, total_steps=15)",
    ],
    [
      "SGD momentum + OneCycleLR three phases, linear",
      (p) => {
        const opt = new SGD(p, { lr: 0.01, momentum: 0.9, weightDecay: 0.01 });
        return [opt, new OneCycleLR(opt, { maxLr: 0.2, totalSteps: 15, threePhase: true, anneal: "linear" })];
      },
      "torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=0.01)",
      "OneCycleLR(opt, max_lr=0.2, total_steps=15, three_phase=True, anneal_strategy='linear')",
    ],
    [
      "AdamW + CosineAnnealingLR",
      (p) => {
        const opt = new AdamW(p, { lr: 0.05, weightDecay: 0.1 });
        return [opt, new CosineAnnealingLR(opt, { tMax: 6, etaMin: 0.001 })];
      },
      "torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)",
      "CosineAnnealingLR(opt, T_max=6, eta_min=0.001)",
    ],
  ];
  for (const [label, build, torchOpt, torchSched] of drives) {
    it(label, async () => {
      const steps = 14;
      const init = [Tensor.randn([3, 4], { dtype: "float64", generator: new Generator(4) }), Tensor.randn([5], { dtype: "float64", generator: new Generator(5) })];
      const params = init.map((t) => {
        const p = t.clone();
        p.requiresGrad = true;
        return p;
      });
      const [opt, sched] = build(params);
      const history: number[] = [];
      for (let t = 0; t < steps; t++) {
        opt.zeroGrad();
        // loss = Σ p² (p - 1) + t · Σ p / 10: gradients that depend on the parameters and on the step.
        params.reduce((s, p) => s.add(p.square().mul(p.sub(1)).sum().add(p.sum().mul(t / 10))), Tensor.zeros([], { dtype: "float64" })).backward();
        opt.step();
        sched.step();
        for (const p of params) history.push(...p.toTypedArray());
      }
      const r = await oracle().run({
        inputs: { init: init.map((t) => torchInput(t)) },
        code: `
params = [t.clone().requires_grad_(True) for t in init]
opt = ${torchOpt}
sched = torch.optim.lr_scheduler.${torchSched}
history = []
for t in range(${steps}):
    opt.zero_grad(set_to_none=True)
    sum((p.square() * (p - 1)).sum() + p.sum() * (t / 10) for p in params).backward()
    opt.step()
    sched.step()
    history += [float(v) for p in params for v in p.detach().flatten()]`,
        outputs: ["history"],
      });
      expectTorchClose(`${label} parameters`, history, r.values.history as number[], RTOL.float64);
    });
  }
});
