// Runs in a fresh project that installed the packed @pico/core and @pico/optim (no @pico/nn):
// a hand-checkable SGD step and Adam with a scheduler minimising a quadratic.
import { tensor } from "@pico/core";
import { Adam, SGD, StepLR } from "@pico/optim";

const p = tensor([3], { requiresGrad: true });
const sgd = new SGD([p], { lr: 0.1 });
p.square().sum().backward();
sgd.step();
const afterSgd = p.toArray();

const target = tensor([1, -2, 0.5]);
const x = tensor([5, 3, -4], { requiresGrad: true });
const adam = new Adam([x], { lr: 0.3 });
const scheduler = new StepLR(adam, { stepSize: 100, gamma: 0.3 });
const losses: number[] = [];
for (let step = 0; step < 300; step++) {
  adam.zeroGrad();
  const loss = x.sub(target).square().sum();
  losses.push(loss.item());
  loss.backward();
  adam.step();
  scheduler.step();
}

console.log(
  JSON.stringify({
    afterSgd,
    firstLoss: losses[0],
    lastLoss: losses.at(-1),
    x: x.toArray(),
    lr: adam.paramGroups[0]?.lr,
    stateKeys: Object.keys(adam.stateDict()),
  }),
);
