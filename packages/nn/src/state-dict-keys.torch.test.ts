import { Tensor } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { AdaptiveAvgPool2d } from "./layers/adaptive-avg-pool2d.js";
import { AdaptiveMaxPool2d } from "./layers/adaptive-max-pool2d.js";
import { AvgPool2d } from "./layers/avg-pool2d.js";
import { BatchNorm1d } from "./layers/batch-norm1d.js";
import { BatchNorm2d } from "./layers/batch-norm2d.js";
import { Conv2d } from "./layers/conv2d.js";
import { Dropout } from "./layers/dropout.js";
import { Flatten } from "./layers/flatten.js";
import { Identity } from "./layers/identity.js";
import { LeakyReLU } from "./layers/leaky-relu.js";
import { Linear } from "./layers/linear.js";
import { LogSoftmax } from "./layers/log-softmax.js";
import { MaxPool2d } from "./layers/max-pool2d.js";
import { ModuleList } from "./layers/module-list.js";
import { ReLU } from "./layers/relu.js";
import { Sequential } from "./layers/sequential.js";
import { Sigmoid } from "./layers/sigmoid.js";
import { Softmax } from "./layers/softmax.js";
import { Tanh } from "./layers/tanh.js";
import { BCEWithLogitsLoss } from "./losses/bce-with-logits-loss.js";
import { CrossEntropyLoss } from "./losses/cross-entropy-loss.js";
import { MSELoss } from "./losses/mse-loss.js";
import { NLLLoss } from "./losses/nll-loss.js";
import type { AnyModule } from "./module.js";
import { referenceCnn } from "./models/reference-cnn.js";

// A state dict is a file format: every module's keys (and their shapes) must be torch's for the
// equivalent module, so that files move between the two with no renaming.
const w = (): Tensor => Tensor.ones([3]);
const modules: [string, () => AnyModule, string][] = [
  ["Linear", () => new Linear(4, 3), "nn.Linear(4, 3)"],
  ["Linear without bias", () => new Linear(4, 3, { bias: false }), "nn.Linear(4, 3, bias=False)"],
  ["Conv2d", () => new Conv2d(4, 6, [3, 2], { groups: 2 }), "nn.Conv2d(4, 6, (3, 2), groups=2)"],
  ["Conv2d without bias", () => new Conv2d(4, 6, 3, { bias: false, padding: "same" }), "nn.Conv2d(4, 6, 3, bias=False, padding='same')"],
  ["BatchNorm1d", () => new BatchNorm1d(5), "nn.BatchNorm1d(5)"],
  ["BatchNorm2d affine false", () => new BatchNorm2d(5, { affine: false }), "nn.BatchNorm2d(5, affine=False)"],
  ["BatchNorm2d trackRunningStats false", () => new BatchNorm2d(5, { trackRunningStats: false }), "nn.BatchNorm2d(5, track_running_stats=False)"],
  ["stateless layers", () => new Sequential(new ReLU(), new LeakyReLU(), new Sigmoid(), new Tanh(), new Softmax(1), new LogSoftmax(1), new Flatten(), new Dropout(), new Identity(), new MaxPool2d(2), new AvgPool2d(2), new AdaptiveAvgPool2d(1), new AdaptiveMaxPool2d([2, 3])),
    "nn.Sequential(nn.ReLU(), nn.LeakyReLU(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(1), nn.LogSoftmax(1), nn.Flatten(), nn.Dropout(), nn.Identity(), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d((2, 3)))"],
  ["ModuleList", () => new ModuleList([new Linear(2, 2), new BatchNorm1d(2)]), "nn.ModuleList([nn.Linear(2, 2), nn.BatchNorm1d(2)])"],
  ["Sequential with BatchNorm", () => new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2), new ReLU(), new Flatten(), new Linear(8, 2)),
    "nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))"],
  ["reference network", () => referenceCnn(),
    "nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 10))"],
  ["CrossEntropyLoss with weight", () => new CrossEntropyLoss({ weight: w() }), "nn.CrossEntropyLoss(weight=torch.ones(3))"],
  ["NLLLoss with weight", () => new NLLLoss({ weight: w() }), "nn.NLLLoss(weight=torch.ones(3))"],
  ["MSELoss", () => new MSELoss(), "nn.MSELoss()"],
  ["BCEWithLogitsLoss with weight and posWeight", () => new BCEWithLogitsLoss({ weight: w(), posWeight: w() }), "nn.BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.ones(3))"],
];

describeTorch("state-dict keys and shapes are torch's, module by module", () => {
  for (const [label, pico, torch] of modules) {
    it(label, async () => {
      const r = await oracle().run({ code: `sd = (${torch}).state_dict()\nout = [[k, list(v.shape)] for k, v in sd.items()]` });
      const mine = Object.entries(pico().stateDict()).map(([k, t]) => [k, t.shape]);
      expect(mine).toEqual(r.values.out);
    });
  }
});
