// Runs in a fresh project that installed the packed @pico/core, @pico/nn and @pico/optim: a small
// convolutional network takes a few Adam steps on a fixed batch and must reduce its loss.
import { ArgumentError, PicoError, Tensor, manualSeed, noGrad, tensor } from "@pico/core";
import { Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, ReLU, Sequential } from "@pico/nn";
import { Adam } from "@pico/optim";

manualSeed(0);
const model = new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(4 * 4 * 4, 3));
const inputs = Tensor.randn([12, 1, 8, 8]);
const targets = tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
const lossFn = new CrossEntropyLoss();
const optimizer = new Adam(model.parameters(), { lr: 0.02 });

const losses: number[] = [];
for (let step = 0; step < 40; step++) {
  optimizer.zeroGrad();
  const loss = lossFn.forward(model.forward(inputs), targets);
  losses.push(loss.item());
  loss.backward();
  optimizer.step();
}

model.eval();
const predictions = noGrad(() => model.forward(inputs).argmax(1)).toArray();

let layerError = "";
try {
  model.forward(Tensor.randn([2, 3, 8, 8]));
} catch (error) {
  if (error instanceof PicoError) layerError = `${error instanceof ArgumentError ? "ArgumentError" : error.name}: ${error.message}`;
}

console.log(
  JSON.stringify({
    firstLoss: losses[0],
    lastLoss: losses.at(-1),
    predictions,
    stateKeys: Object.keys(model.stateDict()),
    parameters: model.numParameters(),
    layerError,
  }),
);
