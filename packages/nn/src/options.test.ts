import { ArgumentError, Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { binaryCrossEntropyWithLogits } from "./functional/binary-cross-entropy-with-logits.js";
import { crossEntropy } from "./functional/cross-entropy.js";
import { dropout } from "./functional/dropout.js";
import { mseLoss } from "./functional/mse-loss.js";
import { nllLoss } from "./functional/nll-loss.js";
import { BatchNorm2d } from "./layers/batch-norm2d.js";
import { Dropout } from "./layers/dropout.js";
import { Linear } from "./layers/linear.js";
import { BCEWithLogitsLoss } from "./losses/bce-with-logits-loss.js";
import { CrossEntropyLoss } from "./losses/cross-entropy-loss.js";
import { MSELoss } from "./losses/mse-loss.js";
import { NLLLoss } from "./losses/nll-loss.js";

// An option is implemented or refused, never ignored: torch spellings and options Pico lacks are errors.
const as = <T>(o: object): T => o as unknown as T;

describe("options a layer, loss or function does not have are refused, naming them and the ones it has", () => {
  const x = Tensor.zeros([2, 3]);
  const t = tensor([0, 1]);
  const cases: [string, () => unknown, string][] = [
    ["Linear", () => new Linear(2, 2, as({ device: "cpu" })), 'Linear: unknown option "device"; the options are bias, dtype, generator'],
    ["BatchNorm2d", () => new BatchNorm2d(2, as({ track_running_stats: false })), 'BatchNorm2d: unknown option "track_running_stats"; the options are eps, momentum, affine, trackRunningStats, dtype'],
    ["Dropout", () => new Dropout(0.5, as({ inplace: true })), 'Dropout: unknown option "inplace"; the options are generator'],
    ["CrossEntropyLoss", () => new CrossEntropyLoss(as({ label_smoothing: 0.1 })), 'CrossEntropyLoss: unknown option "label_smoothing"; the options are weight, ignoreIndex, reduction, labelSmoothing'],
    ["NLLLoss", () => new NLLLoss(as({ sizeAverage: true })), 'NLLLoss: unknown option "sizeAverage"; the options are weight, ignoreIndex, reduction'],
    ["MSELoss", () => new MSELoss(as({ reduce: false })), 'MSELoss: unknown option "reduce"; the options are reduction'],
    ["BCEWithLogitsLoss", () => new BCEWithLogitsLoss(as({ pos_weight: tensor([1]) })), 'BCEWithLogitsLoss: unknown option "pos_weight"; the options are weight, posWeight, reduction'],
    ["crossEntropy", () => crossEntropy(x, t, as({ ignore_index: 1 })), 'crossEntropy: unknown option "ignore_index"'],
    ["nllLoss", () => nllLoss(x, t, as({ ignore_index: 1 })), 'nllLoss: unknown option "ignore_index"'],
    ["mseLoss", () => mseLoss(x, x, as({ reduce: true })), 'mseLoss: unknown option "reduce"'],
    ["binaryCrossEntropyWithLogits", () => binaryCrossEntropyWithLogits(x, x, as({ pos_weight: null })), 'binaryCrossEntropyWithLogits: unknown option "pos_weight"'],
    ["dropout", () => dropout(x, 0.5, as({ inplace: true })), 'dropout: unknown option "inplace"; the options are training, generator'],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => {
      expect(call).toThrow(ArgumentError);
      expect(call).toThrow(message);
    });
  }

  it("an option given as undefined is the default, as if absent", () => {
    expect(() => new Linear(2, 2, { bias: undefined })).not.toThrow();
    expect(() => new BatchNorm2d(2, { momentum: undefined })).not.toThrow();
  });
});
