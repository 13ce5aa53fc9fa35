import type { Tensor } from "@pico/core";
import { compareWithTorch, describeTorch, type CompareOptions, type InputSpec, type Shape } from "@pico/torch-oracle";
import { it } from "vitest";
import { binaryCrossEntropyWithLogits } from "../functional/binary-cross-entropy-with-logits.js";
import { crossEntropy } from "../functional/cross-entropy.js";
import { mseLoss } from "../functional/mse-loss.js";
import { nllLoss } from "../functional/nll-loss.js";
import type { Reduction } from "../functional/reduction.js";
import { BCEWithLogitsLoss } from "./bce-with-logits-loss.js";
import { CrossEntropyLoss } from "./cross-entropy-loss.js";
import { MSELoss } from "./mse-loss.js";
import { NLLLoss } from "./nll-loss.js";

const REDUCTIONS: Reduction[] = ["mean", "sum", "none"];
const noGradInput = { requiresGrad: false } as const;

interface ClassCase {
  /** logits (or log-probabilities) shape; the target drops axis 1. */
  x: Shape;
  weight?: boolean;
  ignoreIndex?: number;
  labelSmoothing?: number;
}

const targetShapeOf = (x: Shape): Shape => (x.length === 1 ? [] : [x[0]!, ...x.slice(2)]);

const classCases: ClassCase[] = [
  { x: [6, 5] },
  { x: [6, 5], weight: true },
  { x: [8, 4], ignoreIndex: 2 },
  { x: [8, 4], weight: true, ignoreIndex: 1 },
  { x: [3, 4, 2, 3] },
  { x: [3, 4, 2, 3], weight: true, ignoreIndex: 0 },
  { x: [5] },
];

/** Torch keyword arguments for a case, with the weight named `w`. */
function kwargs(c: { weight?: boolean; ignoreIndex?: number; labelSmoothing?: number }, reduction: Reduction): string {
  const args = [`reduction='${reduction}'`];
  if (c.weight === true) args.push("weight=w");
  if (c.ignoreIndex !== undefined) args.push(`ignore_index=${c.ignoreIndex}`);
  if (c.labelSmoothing !== undefined) args.push(`label_smoothing=${c.labelSmoothing}`);
  return args.join(", ");
}

function classInputs(c: ClassCase): { shapes: Shape[]; options: CompareOptions } {
  const classes = c.x.length === 1 ? c.x[0]! : c.x[1]!;
  const shapes: Shape[] = [c.x, targetShapeOf(c.x)];
  const inputs: CompareOptions["inputs"] = [{}, { int: classes }];
  if (c.weight === true) {
    shapes.push([classes]);
    return { shapes, options: { names: ["a", "t", "w"], inputs: [...inputs, { low: 0.2, high: 2, ...noGradInput }] } };
  }
  return { shapes, options: { names: ["a", "t"], inputs } };
}

const name = (c: object, reduction: Reduction): string => `${JSON.stringify(c).replace(/"/g, "")} reduction=${reduction}`;

describeTorch("crossEntropy vs torch (class indices)", () => {
  const cases: ClassCase[] = [...classCases, ...classCases.map((c) => ({ ...c, labelSmoothing: 0.2 }))];
  for (const c of cases) {
    for (const reduction of REDUCTIONS) {
      const { shapes, options } = classInputs(c);
      const pico = (a: Tensor, t: Tensor, w?: Tensor): Tensor =>
        crossEntropy(a, t, { weight: w ?? null, ignoreIndex: c.ignoreIndex, labelSmoothing: c.labelSmoothing, reduction });
      it(name(c, reduction), () => compareWithTorch(shapes, pico, `F.cross_entropy(a, t, ${kwargs(c, reduction)})`, options));
    }
  }
  it("CrossEntropyLoss with every option", () =>
    compareWithTorch(
      [[6, 4, 3], [6, 3], [4]],
      (a, t, w) => new CrossEntropyLoss({ weight: w, ignoreIndex: 3, reduction: "mean", labelSmoothing: 0.1 }).forward(a, t),
      "nn.CrossEntropyLoss(weight=w, ignore_index=3, reduction='mean', label_smoothing=0.1)(a, t)",
      { names: ["a", "t", "w"], inputs: [{}, { int: 4 }, { low: 0.5, high: 1.5, ...noGradInput }] },
    ));
  it("every target ignored: the mean is NaN (0/0), as torch, also with label smoothing", async () => {
    const inputs = [{}, { values: [1, 1, 1], int: 4 }];
    await compareWithTorch([[3, 4], [3]], (a, t) => crossEntropy(a, t, { ignoreIndex: 1 }), "F.cross_entropy(a, t, ignore_index=1)", { names: ["a", "t"], inputs });
    await compareWithTorch([[3, 4], [3]], (a, t) => crossEntropy(a, t, { ignoreIndex: 1, labelSmoothing: 0.2 }), "F.cross_entropy(a, t, ignore_index=1, label_smoothing=0.2)", {
      names: ["a", "t"],
      inputs,
    });
    await compareWithTorch([[3, 4], [3]], (a, t) => nllLoss(a, t, { ignoreIndex: 1 }), "F.nll_loss(a, t, ignore_index=1)", { names: ["a", "t"], inputs });
  });
  it("an empty batch", () => compareWithTorch([[0, 4], [0]], (a, t) => crossEntropy(a, t), "F.cross_entropy(a, t)", { names: ["a", "t"], inputs: [{}, { int: 4 }] }));
  it("large logits stay finite", () =>
    compareWithTorch([[4, 3], [4]], (a, t) => crossEntropy(a, t), "F.cross_entropy(a, t)", { names: ["a", "t"], low: 500, high: 1000, inputs: [{}, { int: 3 }] }));
});

describeTorch("crossEntropy vs torch (class probabilities)", () => {
  for (const c of [{ x: [5, 4] }, { x: [5, 4], weight: true }, { x: [2, 3, 2, 2], weight: true }, { x: [5, 4], labelSmoothing: 0.3 }, { x: [5, 4], weight: true, labelSmoothing: 0.3 }]) {
    for (const reduction of REDUCTIONS) {
      const classes = c.x[1]!;
      const shapes: Shape[] = c.weight === true ? [c.x, c.x, [classes]] : [c.x, c.x];
      const inputs: CompareOptions["inputs"] = [{}, { low: 0, high: 1 }, { low: 0.2, high: 2, ...noGradInput }];
      const pico = (a: Tensor, t: Tensor, w?: Tensor): Tensor => crossEntropy(a, t, { weight: w ?? null, labelSmoothing: c.labelSmoothing, reduction });
      it(name(c, reduction), () =>
        compareWithTorch(shapes, pico, `F.cross_entropy(a, t, ${kwargs(c, reduction)})`, { names: ["a", "t", "w"], inputs: inputs.slice(0, shapes.length) }));
    }
  }
});

describeTorch("nllLoss vs torch", () => {
  for (const c of classCases) {
    for (const reduction of REDUCTIONS) {
      const { shapes, options } = classInputs(c);
      const pico = (a: Tensor, t: Tensor, w?: Tensor): Tensor => nllLoss(a, t, { weight: w ?? null, ignoreIndex: c.ignoreIndex, reduction });
      it(name(c, reduction), () => compareWithTorch(shapes, pico, `F.nll_loss(a, t, ${kwargs(c, reduction)})`, options));
    }
  }
  it("NLLLoss with every option", () =>
    compareWithTorch(
      [[7, 3], [7], [3]],
      (a, t, w) => new NLLLoss({ weight: w, ignoreIndex: 0, reduction: "sum" }).forward(a, t),
      "nn.NLLLoss(weight=w, ignore_index=0, reduction='sum')(a, t)",
      { names: ["a", "t", "w"], inputs: [{}, { int: 3 }, { low: 0.5, high: 1.5, ...noGradInput }] },
    ));
});

describeTorch("mseLoss vs torch (input and target gradients)", () => {
  for (const reduction of REDUCTIONS) {
    it(`[4, 5] reduction=${reduction}`, () => compareWithTorch([[4, 5], [4, 5]], (a, b) => mseLoss(a, b, { reduction }), `F.mse_loss(a, b, reduction='${reduction}')`));
    it(`[2, 3, 4] layer reduction=${reduction}`, () =>
      compareWithTorch([[2, 3, 4], [2, 3, 4]], (a, b) => new MSELoss({ reduction }).forward(a, b), `nn.MSELoss(reduction='${reduction}')(a, b)`));
  }
});

describeTorch("binaryCrossEntropyWithLogits vs torch (input and target gradients)", () => {
  const cases = [
    { x: [6, 3] },
    { x: [6, 3], weight: [6, 3] },
    { x: [6, 3], weight: [3] },
    { x: [6, 3], posWeight: [3] },
    { x: [2, 3, 4], weight: [1, 3, 1], posWeight: [4] },
    { x: [6, 3], weight: [6, 1], posWeight: [3] },
  ];
  for (const c of cases) {
    for (const reduction of REDUCTIONS) {
      const shapes: Shape[] = [c.x, c.x];
      const names = ["a", "t"];
      const inputs: InputSpec[] = [{}, { low: 0, high: 1 }];
      const args = [`reduction='${reduction}'`];
      if (c.weight !== undefined) {
        shapes.push(c.weight);
        names.push("w");
        inputs.push({ low: 0.2, high: 2, ...noGradInput });
        args.push("weight=w");
      }
      if (c.posWeight !== undefined) {
        shapes.push(c.posWeight);
        names.push("pw");
        inputs.push({ low: 0.2, high: 3, ...noGradInput });
        args.push("pos_weight=pw");
      }
      const pico = (a: Tensor, t: Tensor, ...rest: Tensor[]): Tensor => {
        const w = c.weight !== undefined ? rest[0]! : null;
        const pw = c.posWeight !== undefined ? rest[c.weight !== undefined ? 1 : 0]! : null;
        return binaryCrossEntropyWithLogits(a, t, { weight: w, posWeight: pw, reduction });
      };
      it(name(c, reduction), () => compareWithTorch(shapes, pico, `F.binary_cross_entropy_with_logits(a, t, ${args.join(", ")})`, { names, inputs, low: -4, high: 4 }));
    }
  }
  it("BCEWithLogitsLoss with every option, large logits", () =>
    compareWithTorch(
      [[5, 2], [5, 2], [2], [2]],
      (a, t, w, pw) => new BCEWithLogitsLoss({ weight: w, posWeight: pw, reduction: "mean" }).forward(a, t),
      "nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction='mean')(a, t)",
      { names: ["a", "t", "w", "pw"], inputs: [{ low: -80, high: 80 }, { low: 0, high: 1 }, { low: 0.5, high: 2, ...noGradInput }, { low: 0.5, high: 2, ...noGradInput }] },
    ));
});
