import { Tensor, kernels, tracer } from "@pico/core";
import { addRelu } from "../functional/add-relu.js";
import { conv2d, conv2dGeometry } from "../functional/conv2d.js";
import { conv2dReluMaxPool2d, Conv2dReluMaxPool2dFunction } from "../functional/conv2d-relu-max-pool2d.js";
import { keepsNoReferences } from "../keeps-no-references.js";
import { AddReLU } from "../layers/add-relu.js";
import { BatchNormBase } from "../layers/batch-norm.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import type { Module } from "../module.js";
import { releaseDead } from "../release-dead.js";
import { Conv2dReluFunction } from "./conv2d-relu.js";
import { foldedBatchNorm, forgetFoldedBatchNorm } from "./folded-batch-norm.js";
import { fusedByFuseModules } from "./fused-by-fuse-modules.js";

// Every fusion Pico.ts performs, in one list. A run of consecutive modules whose classes match a
// pattern runs as that pattern's fused forward instead of module by module: in a Sequential by default
// (Sequential.fusion), in any other Module for the runs named to fuseModules. Results equal the unfused
// modules' (to float32 rounding where the arithmetic is reordered: a folded BatchNorm, the WebAssembly
// kernels' summation order), gradients too; parameters, buffers, state-dict keys and module names never
// change. A pattern declines (returns null) an input or a setting it does not cover, and the modules
// then run one by one, so every error is the module's own.
//
// A module matches a class when it is an instance whose forward is that class's (a subclass that
// overrides forward never fuses: its forward might do anything).
//
// In backward, a gradient may stay in the kernel module from one backward to the next (kernels.handOff):
// the BatchNorm's input gradient for the convolution before it (the BatchNorm's input is the pattern's
// own), and a convolution's or max pooling's input gradient for the BatchNorm's backward before it. The
// kernels never do that by themselves: a pattern arms it where it knows the tensor goes to one Function
// alone, that is, inside the pattern, and at the pattern's input where its caller vouches that nothing
// but the run reads it (`inputAlone`: a Sequential's intermediate that every module which made or read it
// keeps no reference to; a fused group's input the model's forward declared with readAlone).

/** A class of modules mapping a Tensor to a Tensor, as patterns name them. */
export type ModuleClass = abstract new (...args: never[]) => Module<[Tensor], Tensor>;
/** A class of modules a residual pattern ends with: it takes a second operand (AddReLU). */
export type ResidualModuleClass = abstract new (...args: never[]) => Module<[Tensor, Tensor], Tensor>;

export interface FusionPattern {
  /** The pattern's name, as fuseModules' errors and the docs list it. */
  readonly name: string;
  /** The classes of the consecutive modules it fuses, in order. */
  readonly sequence: readonly ModuleClass[];
  /** What the fused forward does instead, for the docs. */
  readonly description: string;
  /**
   * The fused forward of `modules` (matching `sequence`) on `input`, or null to run them one by one.
   * `inputAlone`: the caller vouches that nothing but this run reads `input` (default false).
   */
  forward(modules: readonly Module<[Tensor], Tensor>[], input: Tensor, inputAlone?: boolean): Tensor | null;
}

/**
 * A fusion whose last module takes a second operand, the residual (fuseModules only: a Sequential passes
 * one tensor). The model's forward calls the modules in order on each other's outputs and the last one
 * with the residual too (`addRelu.call(bn2.call(conv2.call(h)), x)`, or x first); nothing runs until the last
 * one is called, which then computes the whole group on the group's input and the residual. Before that the
 * modules hand on a stand-in of outputShape's shape, whose values cannot be read (fuseModules).
 */
export interface ResidualFusionPattern {
  readonly name: string;
  /** The classes of the modules before the last, in order. */
  readonly sequence: readonly ModuleClass[];
  /** The last module's class, which takes (the previous module's output, residual). */
  readonly last: ResidualModuleClass;
  readonly description: string;
  /** The fused group on `input` with `residual`, or null to run the modules one by one; `inputAlone` as FusionPattern.forward's. */
  forward(modules: readonly Module<[Tensor], Tensor>[], last: Module<[Tensor, Tensor], Tensor>, input: Tensor, residual: Tensor, inputAlone?: boolean): Tensor | null;
  /**
   * The shape the modules before the last would give `input` (what a forward reading the shape of their
   * not yet computed output sees), or null where they would refuse it (their own error then comes when the
   * group runs).
   */
  outputShape(modules: readonly Module<[Tensor], Tensor>[], input: Tensor): number[] | null;
}

/** Whether `module` is an instance of `cls` that computes `cls`'s own forward. */
export function isA(module: unknown, cls: ModuleClass | ResidualModuleClass): boolean {
  if (!(module instanceof cls)) return false;
  const own = Object.prototype.hasOwnProperty.call(module, "forward") && !fusedByFuseModules.has(module);
  return !own && Object.getPrototypeOf(module).forward === (cls.prototype as { forward: unknown }).forward;
}

/** The residual module's class's forward on (a, b) (not a forward fuseModules installed on the instance). */
export function classForward2(module: Module<[Tensor, Tensor], Tensor>, a: Tensor, b: Tensor): Tensor {
  return fusedByFuseModules.has(module) ? (Object.getPrototypeOf(module).forward as (a: Tensor, b: Tensor) => Tensor).call(module, a, b) : module.forward(a, b);
}

/** The module's class's forward on `input` (not a forward fuseModules installed on the instance). */
export function classForward(module: Module<[Tensor], Tensor>, input: Tensor): Tensor {
  return fusedByFuseModules.has(module) ? (Object.getPrototypeOf(module).forward as (x: Tensor) => Tensor).call(module, input) : module.forward(input);
}

/** Whether `modules` from `start` on begin with the pattern's sequence. */
export function matchesAt(pattern: { readonly sequence: readonly ModuleClass[] }, modules: readonly unknown[], start: number): boolean {
  // A loop, not every() with a closure: a Sequential tries every pattern at every position on each call.
  const sequence = pattern.sequence;
  for (let k = 0; k < sequence.length; k++) if (!isA(modules[start + k], sequence[k]!)) return false;
  return true;
}

/** A 4-D input with the convolution's channels, large enough for its kernel: what the fused paths take. */
function convInput(conv: Conv2d, input: Tensor): boolean {
  if (!(input instanceof Tensor) || input.ndim !== 4 || input.shape[1] !== conv.inChannels || conv.paddingMode !== "zeros") return false;
  const ph = conv.padding === "same" ? 0 : conv.padding[0];
  const pw = conv.padding === "same" ? 0 : conv.padding[1];
  return input.shape[2]! + 2 * ph >= dilatedKernel(conv, 0) && input.shape[3]! + 2 * pw >= dilatedKernel(conv, 1);
}

/** The extent of the convolution's dilated kernel along axis 0 (height) or 1 (width). */
function dilatedKernel(conv: Conv2d, axis: 0 | 1): number {
  return conv.dilation[axis] * (conv.kernelSize[axis] - 1) + 1;
}

/** The convolution's padding as numbers on each side, or null for a "same" that pads one side more (an even dilated kernel). */
function symmetricPadding(conv: Conv2d): [number, number] | null {
  if (conv.padding !== "same") return conv.padding;
  const kh = dilatedKernel(conv, 0);
  const kw = dilatedKernel(conv, 1);
  if ((kh - 1) % 2 !== 0 || (kw - 1) % 2 !== 0) return null;
  return [(kh - 1) / 2, (kw - 1) / 2];
}

/**
 * The convolution's padding when conv2dReluMaxPool2d can take `input` exactly as the modules would,
 * else null: a symmetric padding (an asymmetric "same" pads the input first), windows that fit, and a
 * pool without dilation or ceilMode.
 */
function fusablePadding(conv: Conv2d, pool: MaxPool2d, input: Tensor): [number, number] | null {
  if (!convInput(conv, input) || pool.ceilMode || pool.dilation[0] !== 1 || pool.dilation[1] !== 1) return null;
  const padding = symmetricPadding(conv);
  if (padding === null) return null;
  const oh = Math.floor((input.shape[2]! + 2 * padding[0] - dilatedKernel(conv, 0)) / conv.stride[0]) + 1;
  const ow = Math.floor((input.shape[3]! + 2 * padding[1] - dilatedKernel(conv, 1)) / conv.stride[1]) + 1;
  const ph = pool.padding[0];
  const pw = pool.padding[1];
  const poolH = pool.kernelSize[0];
  const poolW = pool.kernelSize[1];
  if (2 * ph > poolH || 2 * pw > poolW || oh + 2 * ph < poolH || ow + 2 * pw < poolW) return null;
  return padding;
}

/**
 * A BatchNorm that normalises with its running statistics (evaluation), so that it can be folded. A
 * BatchNorm seen in training mode drops the fold kept for the pair (foldedBatchNorm), which is then
 * computed afresh after the switch back to evaluation.
 */
function foldable(conv: Conv2d, bn: BatchNormBase): boolean {
  if (bn.training) forgetFoldedBatchNorm(conv, bn);
  return !bn.training && bn.running_mean !== null && bn.running_var !== null && bn.numFeatures === conv.outChannels;
}

function convOptions(conv: Conv2d): { stride: [number, number]; dilation: [number, number]; groups: number; padding: [number, number] | "same" } {
  return { stride: conv.stride, dilation: conv.dilation, groups: conv.groups, padding: conv.padding };
}

/** relu(conv2d(input, weight, bias)) with the ReLU in the convolution's output pass (Conv2dReluFunction), or null for an asymmetric "same". */
function conv2dRelu(conv: Conv2d, input: Tensor, weight: Tensor, bias: Tensor | null): Tensor | null {
  const padding = symmetricPadding(conv);
  if (padding === null) return null;
  return Conv2dReluFunction.apply(input, weight, bias, { stride: conv.stride, dilation: conv.dilation, groups: conv.groups, padding });
}

/**
 * Training: the convolution, then the BatchNorm (and the ReLU with `relu`) on its output, which stays in
 * the kernel module for the BatchNorm's statistics (not copied in again). Where neither module keeps a
 * reference, the output goes to the BatchNorm alone: its gradient (the BatchNorm's backward's output) is
 * then left in the module for the convolution's backward (told to the BatchNorm's forward), and the
 * output is recycled once backward is done with it. Where moreover nothing else reads `input`
 * (`inputAlone`), the convolution's input gradient is left in the module for the backward of what made
 * `input` (a BatchNorm's, which reads it there).
 */
function convThenBatchNorm(c: Conv2d, b: BatchNorm2d, input: Tensor, relu: boolean, inputAlone: boolean, residual: Tensor | null = null): Tensor {
  const alone = keepsNoReferences(c) && keepsNoReferences(b);
  return kernels.handOff(() => c.forwardHandingOffGradInput(input, alone && inputAlone), (y) => {
    const out = residual === null ? b.forwardHandingOffGradInput(y, relu, alone) : b.forwardAddRelu(y, residual, alone);
    if (alone) releaseDead(y, input, out);
    return out;
  });
}

const convBnRelu: FusionPattern = {
  name: "Conv2d → BatchNorm2d → ReLU",
  sequence: [Conv2d, BatchNorm2d, ReLU],
  description:
    "evaluation: the BatchNorm folded into the convolution (the folded weight and bias kept until a parameter, running statistic or eps changes), ReLU applied by the convolution to its output (Conv2dReluFunction); " +
    "training: the convolution, then BatchNorm and ReLU in one pass (batchNormRelu) reading the convolution's output where the kernel module left it (kernels.handOff), and in backward the convolution reading the BatchNorm's input gradient where it was left, the convolution's output recycled once backward is done with it (at once under noGrad)",
  forward(modules, input, inputAlone = false) {
    const c = modules[0] as Conv2d;
    const b = modules[1] as BatchNorm2d;
    if (!convInput(c, input) || b.numFeatures !== c.outChannels) return null;
    if (foldable(c, b)) {
      const folded = foldedBatchNorm(c, b);
      return conv2dRelu(c, input, folded.weight, folded.bias) ?? conv2d(input, folded.weight, folded.bias, convOptions(c)).relu();
    }
    return convThenBatchNorm(c, b, input, true, inputAlone);
  },
};

const convBn: FusionPattern = {
  name: "Conv2d → BatchNorm2d",
  sequence: [Conv2d, BatchNorm2d],
  description:
    "evaluation: the BatchNorm folded into the convolution's weight and bias (kept until a parameter, running statistic or eps changes); " +
    "training: the convolution, then the BatchNorm reading its output where the kernel module left it (kernels.handOff), the convolution's output recycled once backward is done with it",
  forward(modules, input, inputAlone = false) {
    const c = modules[0] as Conv2d;
    const b = modules[1] as BatchNorm2d;
    if (!convInput(c, input) || b.numFeatures !== c.outChannels) return null;
    if (foldable(c, b)) {
      const folded = foldedBatchNorm(c, b);
      return conv2d(input, folded.weight, folded.bias, convOptions(c));
    }
    return convThenBatchNorm(c, b, input, false, inputAlone);
  },
};

/**
 * Whether the convolution alone runs by Winograd's F(4×4, 3×3) but conv2dReluMaxPool2d with `weight`
 * would not: then the convolution with its ReLU (Conv2d → ReLU) and the pooling apart are faster (batch 64
 * of 32→32 channels, 32×32, 3×3 padded: the fused operator took 2-4× as long). The fused operator pools
 * by F(4×4, 3×3) too where it keeps no arg-max (nothing needs a gradient) and the output's tiles are
 * whole; in training it records the arg-max, which only its direct and im2col kernels do. The module decides.
 */
function winogradAlone(conv: Conv2d, input: Tensor, padding: [number, number], bn: BatchNormBase | null): boolean {
  if (input.dtype !== "float32" || conv.weight.dtype !== "float32" || kernels.conv2dKernels.resolve().backend !== "wasm") return false;
  const g = conv2dGeometry(input.shape, conv.weight.shape, null, { stride: conv.stride, padding, dilation: conv.dilation, groups: conv.groups });
  const parametersNeedGrad = requiresGrad(conv.weight) || requiresGrad(conv.bias) || (bn !== null && (requiresGrad(bn.weight) || requiresGrad(bn.bias)));
  const argmax = !tracer.blind && (input.requiresGrad || parametersNeedGrad);
  return kernels.conv2dWasmPath(g) === "winograd3x3" && kernels.conv2dWasmPath(g, { reluMaxPool2x2: true, argmax }) !== "winograd3x3";
}

function requiresGrad(parameter: Tensor | null): boolean {
  return parameter !== null && parameter.requiresGrad;
}

const convBnReluMaxPool: FusionPattern = {
  name: "Conv2d → BatchNorm2d → ReLU → MaxPool2d",
  sequence: [Conv2d, BatchNorm2d, ReLU, MaxPool2d],
  description:
    "evaluation: the BatchNorm folded into the convolution (as Conv2d → BatchNorm2d → ReLU), then conv2dReluMaxPool2d, which at inference " +
    "pools each 4×4 output tile of Winograd's F(4×4, 3×3) before it is stored (a 2×2 pool of stride 2 over whole tiles); " +
    "declined wherever the convolution alone goes by F(4×4, 3×3) and the fused operator would not (then Conv2d → BatchNorm2d → ReLU fuses and the pool runs apart); " +
    "training: Conv2d → BatchNorm2d → ReLU's, then the pool, whose input gradient is left in the kernel module for the BatchNorm's backward, the BatchNorm's output recycled once backward is done with it",
  forward(modules, input, inputAlone = false) {
    const c = modules[0] as Conv2d;
    const b = modules[1] as BatchNorm2d;
    const p = modules[3] as MaxPool2d;
    if (b.numFeatures !== c.outChannels) return null;
    if (!foldable(c, b)) return convInput(c, input) ? batchNormThenPool(c, b, p, input, inputAlone) : null;
    const padding = fusablePadding(c, p, input);
    if (padding === null) return null;
    // Decided before folding: the folded weight and bias need a gradient where these parameters do.
    if (winogradAlone(c, input, padding, b)) return null;
    const folded = foldedBatchNorm(c, b);
    return conv2dReluMaxPool2d(input, folded.weight, folded.bias, { ...convOptions(c), padding }, p.kernelSize, { stride: p.stride, padding: p.padding });
  },
};

/**
 * Training: Conv2d → BatchNorm2d → ReLU (convThenBatchNorm), then the pool on its output, which goes to
 * the pool alone where no module keeps a reference: the pool's input gradient is then left in the kernel
 * module for the BatchNorm's backward, and the BatchNorm's output is recycled once backward is done with it.
 */
function batchNormThenPool(c: Conv2d, b: BatchNorm2d, p: MaxPool2d, input: Tensor, inputAlone: boolean): Tensor {
  const normalized = convThenBatchNorm(c, b, input, true, inputAlone);
  const alone = keepsNoReferences(c) && keepsNoReferences(b) && keepsNoReferences(p);
  const pooled = p.forwardHandingOffGradInput(normalized, alone);
  if (alone) releaseDead(normalized, input, pooled);
  return pooled;
}

const convReluMaxPool: FusionPattern = {
  name: "Conv2d → ReLU → MaxPool2d",
  sequence: [Conv2d, ReLU, MaxPool2d],
  description:
    "conv2dReluMaxPool2d: the batch's convolution and ReLU outputs are never materialised (training and evaluation); " +
    "in backward, where nothing but the run reads its input (a Sequential's intermediate), the input gradient is left in the kernel module for the backward of what made the input; " +
    "declined where the convolution alone goes by Winograd F(4×4, 3×3) and the fused operator would not (then Conv2d → ReLU fuses and the pool runs apart)",
  forward(modules, input, inputAlone = false) {
    // Indexed, not destructured: a destructuring pattern may allocate an iterator on every call.
    const c = modules[0] as Conv2d;
    const relu = modules[1]!;
    const p = modules[2] as MaxPool2d;
    const padding = fusablePadding(c, p, input);
    if (padding === null || winogradAlone(c, input, padding, null)) return null;
    const options = { stride: c.stride, dilation: c.dilation, groups: c.groups, padding };
    const poolOptions = { stride: p.stride, padding: p.padding };
    // Nothing but this run reads `input`: its gradient goes to the backward of what made it alone, and is
    // left in the kernel module for it (the fused convolution before, on the reference network).
    const alone = keepsNoReferences(c) && keepsNoReferences(relu) && keepsNoReferences(p);
    if (inputAlone && alone && input.dtype === c.weight.dtype && (c.bias === null || c.bias.dtype === input.dtype)) {
      return Conv2dReluMaxPool2dFunction.apply(input, c.weight, c.bias, options, p.kernelSize, poolOptions, true);
    }
    return conv2dReluMaxPool2d(input, c.weight, c.bias, options, p.kernelSize, poolOptions);
  },
};

const convRelu: FusionPattern = {
  name: "Conv2d → ReLU",
  sequence: [Conv2d, ReLU],
  description: "the ReLU applied by the convolution to its output as it is written (Conv2dReluFunction; training and evaluation)",
  forward(modules, input) {
    const c = modules[0] as Conv2d;
    if (!convInput(c, input)) return null;
    return conv2dRelu(c, input, c.weight, c.bias);
  },
};

const batchNormRelu: FusionPattern = {
  name: "BatchNorm → ReLU",
  sequence: [BatchNormBase, ReLU],
  description: "BatchNorm1d or BatchNorm2d and ReLU in one pass forward and one backward (batchNormRelu)",
  forward(modules, input) {
    return (modules[0] as BatchNormBase).forwardRelu(input);
  },
};

/**
 * Every fusion pattern, tried in this order at each position (longest first): the first that matches
 * and accepts the input runs. The residual block's end, whose add takes a second operand, is in
 * RESIDUAL_FUSION_PATTERNS.
 */
export const FUSION_PATTERNS: readonly FusionPattern[] = [convBnReluMaxPool, convBnRelu, convReluMaxPool, convBn, convRelu, batchNormRelu];

const convBnAddRelu: ResidualFusionPattern = {
  name: "Conv2d → BatchNorm2d → AddReLU",
  sequence: [Conv2d, BatchNorm2d],
  last: AddReLU,
  description:
    "relu(bn(conv(x)) + residual), a residual block's end; evaluation: the BatchNorm folded into the convolution (kept as for Conv2d → BatchNorm2d), then addRelu written into the convolution's output; " +
    "training: the convolution, then F.batchNormAddRelu reading its output where the kernel module left it, which adds the residual and rectifies as it writes the normalised values " +
    "(no normalised tensor, no separate add pass) and in backward masks the gradient by the output while taking the BatchNorm's sums, that masked gradient being the residual's; " +
    "the BatchNorm's input gradient left in the module for the convolution's backward, and the convolution's for the backward of what made its input where the model declared it readAlone",
  forward(modules, _last, input, residual, inputAlone = false) {
    const c = modules[0] as Conv2d;
    const b = modules[1] as BatchNorm2d;
    if (!convInput(c, input) || b.numFeatures !== c.outChannels) return null;
    if (foldable(c, b)) {
      const folded = foldedBatchNorm(c, b);
      const y = conv2d(input, folded.weight, folded.bias, convOptions(c));
      // Into the convolution's output (nothing else holds it) where the sum has its shape and dtype.
      return addRelu(y, residual, { inplace: kernels.sameShape(kernels.broadcastShapes("addRelu", y.shape, residual.shape), y.shape) && kernels.promote(y.dtype, residual.dtype) === y.dtype });
    }
    return convThenBatchNorm(c, b, input, false, inputAlone, residual);
  },
  outputShape([conv, bn], input) {
    const [c, b] = [conv as Conv2d, bn as BatchNorm2d];
    if (input.ndim !== 4 || input.shape[1] !== c.inChannels || b.numFeatures !== c.outChannels) return null;
    const [n, , h, w] = input.shape as [number, number, number, number];
    // "same" keeps the size (it needs stride 1); a padding mode other than zeros pads by the same amounts.
    if (c.padding === "same") return [n, c.outChannels, h, w];
    const oh = Math.floor((h + 2 * c.padding[0] - dilatedKernel(c, 0)) / c.stride[0]) + 1;
    const ow = Math.floor((w + 2 * c.padding[1] - dilatedKernel(c, 1)) / c.stride[1]) + 1;
    return oh >= 1 && ow >= 1 ? [n, c.outChannels, oh, ow] : null;
  },
};

/** Every fusion whose last module takes a residual (fuseModules' groups ending with AddReLU). */
export const RESIDUAL_FUSION_PATTERNS: readonly ResidualFusionPattern[] = [convBnAddRelu];

/**
 * Runs `modules` on `input` as a chain, fused by `patterns` wherever a run matches and accepts the input;
 * `inputAlone` as FusionPattern.forward's, for the first run.
 */
export function runFused(
  modules: readonly Module<[Tensor], Tensor>[],
  input: Tensor,
  patterns: readonly FusionPattern[] = FUSION_PATTERNS,
  inputAlone = false,
): Tensor {
  let x = input;
  for (let i = 0; i < modules.length; ) {
    const fused = fuseAt(modules, i, x, patterns, i === 0 && inputAlone);
    if (fused !== null) {
      x = fused.output;
      i += fused.length;
    } else {
      x = classForward(modules[i]!, x);
      i += 1;
    }
  }
  return x;
}

/**
 * The runs runOf handed out, by their first module and length. Keyed by the module rather than by the
 * list: a Sequential lists its children in a new array on every call.
 */
const runsByFirst = new WeakMap<object, (Module<[Tensor], Tensor>[] | undefined)[]>();

/**
 * modules[start, start + length) as an array, the same one on every call while those elements stay the
 * same, instead of a slice per call. Patterns only read it.
 */
function runOf(modules: readonly unknown[], start: number, length: number): Module<[Tensor], Tensor>[] {
  const first = modules[start] as object;
  let byLength = runsByFirst.get(first);
  if (byLength === undefined) {
    byLength = [];
    runsByFirst.set(first, byLength);
  }
  const kept = byLength[length];
  if (kept !== undefined && sameElements(kept, modules, start)) return kept;
  const run = modules.slice(start, start + length) as Module<[Tensor], Tensor>[];
  byLength[length] = run;
  return run;
}

function sameElements(run: readonly unknown[], modules: readonly unknown[], start: number): boolean {
  for (let k = 0; k < run.length; k++) if (run[k] !== modules[start + k]) return false;
  return true;
}

/**
 * The output of the first pattern that matches `modules` at `start` and accepts `input`, and how many
 * modules it covered; else null. `inputAlone` as FusionPattern.forward's.
 */
export function fuseAt(
  modules: readonly unknown[],
  start: number,
  input: Tensor,
  patterns: readonly FusionPattern[] = FUSION_PATTERNS,
  inputAlone = false,
): { output: Tensor; length: number } | null {
  for (let i = 0; i < patterns.length; i++) {
    const pattern = patterns[i]!;
    if (!matchesAt(pattern, modules, start)) continue;
    const run = runOf(modules, start, pattern.sequence.length);
    const output = pattern.forward(run, input, inputAlone);
    if (output !== null) return { output, length: run.length };
  }
  return null;
}
