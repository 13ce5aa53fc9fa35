import { ArgumentError, GraphValue, ops, tensor, type DType, type FunctionClass } from "@pico/core";
import { Conv2dReluFunction, F, type IntPair } from "@pico/nn";
import { float, registerOnnx, type OnnxContext } from "./registry.js";

// The ONNX translation (opset 13) of every built-in Function that has one. Fused Functions emit the
// node sequence they fuse; nothing here changes numerics beyond ONNX's own kernels.

type PoolOptions = { stride?: IntPair; padding?: IntPair; dilation?: IntPair; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number | null };
type ConvOptions = { stride?: IntPair; padding?: IntPair; dilation?: IntPair; groups?: number };

const ONNX_DTYPE: Record<DType, number> = { float32: 1, float64: 11 };

function pair(value: IntPair | undefined, fallback: readonly [number, number]): [number, number] {
  if (value === undefined) return [fallback[0], fallback[1]];
  return typeof value === "number" ? [value, value] : [value[0], value[1]];
}

function literal<T>(ctx: OnnxContext, index: number): T {
  return ctx.node.args[index] as T;
}

function inputShape(ctx: OnnxContext, index = 0): readonly number[] {
  return (ctx.node.args[index] as GraphValue).shape;
}

function refuse(ctx: OnnxContext, rule: string): never {
  throw new ArgumentError(`exportOnnx: ${ctx.node.fn.name} (node ${ctx.node.name}) ${rule}`);
}

function scalar(ctx: OnnxContext, value: number, dtype: DType): string {
  return ctx.constant(tensor(value, { dtype }).data);
}

function elementwise(fn: FunctionClass, opType: string): void {
  registerOnnx(fn, (ctx) => ctx.add(opType, ctx.node.inputs.map((_, i) => ctx.arg(i)), [ctx.output]));
}

for (const [fn, op] of [
  [ops.Add, "Add"], [ops.Sub, "Sub"], [ops.Mul, "Mul"], [ops.Div, "Div"], [ops.Pow, "Pow"], [ops.Maximum, "Max"], [ops.Minimum, "Min"],
  [ops.Neg, "Neg"], [ops.Exp, "Exp"], [ops.Log, "Log"], [ops.Sqrt, "Sqrt"], [ops.Abs, "Abs"], [ops.Relu, "Relu"],
  [ops.Sigmoid, "Sigmoid"], [ops.Tanh, "Tanh"], [ops.MatMul, "MatMul"],
] as const) {
  elementwise(fn, op);
}

registerOnnx(ops.Clamp, (ctx) => {
  const dtype = ctx.node.output.dtype;
  const [min, max] = [literal<number>(ctx, 1), literal<number>(ctx, 2)];
  ctx.add("Clip", [ctx.arg(0), min === -Infinity ? "" : scalar(ctx, min, dtype), max === Infinity ? "" : scalar(ctx, max, dtype)], [ctx.output]);
});

// Argument 3, when true, gives mat2 as its transpose (nn's linear passes the weight itself): Gemm's transB.
registerOnnx(ops.Addmm, (ctx) => ctx.add("Gemm", [ctx.arg(1), ctx.arg(2), ctx.arg(0)], [ctx.output], literal<boolean | undefined>(ctx, 3) === true ? { transB: 1 } : {}));

registerOnnx(ops.Softmax, (ctx) => ctx.add("Softmax", [ctx.arg(0)], [ctx.output], { axis: literal<number>(ctx, 1) }));
registerOnnx(ops.LogSoftmax, (ctx) => ctx.add("LogSoftmax", [ctx.arg(0)], [ctx.output], { axis: literal<number>(ctx, 1) }));

registerOnnx(ops.Cast, (ctx) => {
  const to = literal<DType>(ctx, 1);
  if ((ctx.node.args[0] as GraphValue).dtype === to) ctx.add("Identity", [ctx.arg(0)], [ctx.output]);
  else ctx.add("Cast", [ctx.arg(0)], [ctx.output], { to: ONNX_DTYPE[to] });
});

registerOnnx(ops.Sum, (ctx) => {
  const axes = literal<number[]>(ctx, 1);
  if (axes.length === 0) ctx.add("Identity", [ctx.arg(0)], [ctx.output]);
  else ctx.add("ReduceSum", [ctx.arg(0), ctx.constant(axes)], [ctx.output], { keepdims: literal<boolean>(ctx, 2) ? 1 : 0 });
});
for (const [fn, op] of [[ops.Max, "ReduceMax"], [ops.Min, "ReduceMin"]] as const) {
  registerOnnx(fn, (ctx) => {
    const axes = literal<number[]>(ctx, 1);
    if (axes.length === 0) ctx.add("Identity", [ctx.arg(0)], [ctx.output]);
    else ctx.add(op, [ctx.arg(0)], [ctx.output], { axes, keepdims: literal<boolean>(ctx, 2) ? 1 : 0 });
  });
}

registerOnnx(ops.Reshape, (ctx) => {
  const from = inputShape(ctx);
  const to = ctx.node.output.shape;
  if (to.length === 2 && from.length > 2 && to[0] === from[0]) {
    ctx.add("Flatten", [ctx.arg(0)], [ctx.output], { axis: 1 });
    return;
  }
  // 0 copies the input's dimension at that index (allowzero 0), so a kept batch axis is not baked in.
  let keep = 0;
  while (keep < Math.min(from.length, to.length) && from[keep] === to[keep] && from[keep] !== 0) keep++;
  // With dynamicBatch, the output's batch axis (if not a copied one) is inferred: -1.
  const batch = ctx.batchAxis(ctx.node.output);
  ctx.add("Reshape", [ctx.arg(0), ctx.constant(to.map((d, i) => (i < keep ? 0 : i === batch ? -1 : d)))], [ctx.output]);
});

registerOnnx(ops.Permute, (ctx) => ctx.add("Transpose", [ctx.arg(0)], [ctx.output], { perm: literal<number[]>(ctx, 1) }));

registerOnnx(ops.Slice, (ctx) => {
  const [axis, start, end] = [literal<number>(ctx, 1), literal<number>(ctx, 2), literal<number>(ctx, 3)];
  const x = ctx.node.args[0] as GraphValue;
  let last = end;
  if (ctx.batchAxis(x) === axis) {
    if (start !== 0 || end !== x.shape[axis]) refuse(ctx, `slices [${start}, ${end}) of the batch axis ${axis}: with dynamicBatch a slice must keep the whole batch`);
    last = Number.MAX_SAFE_INTEGER;
  }
  ctx.add("Slice", [ctx.arg(0), ctx.constant([start]), ctx.constant([last]), ctx.constant([axis])], [ctx.output]);
});

registerOnnx(ops.Pad, (ctx) => {
  const [before, after, value] = [literal<number[]>(ctx, 1), literal<number[]>(ctx, 2), literal<number>(ctx, 3)];
  ctx.add("Pad", [ctx.arg(0), ctx.constant([...before, ...after]), scalar(ctx, value, ctx.node.output.dtype)], [ctx.output], { mode: "constant" });
});

registerOnnx(ops.Expand, (ctx) => {
  const shape = [...ctx.node.output.shape];
  const batch = ctx.batchAxis(ctx.node.output);
  if (batch !== null) {
    // Expand broadcasts both ways: 1 takes the input's (batch-sized) dimension there.
    const x = ctx.node.args[0] as GraphValue;
    if (ctx.batchAxis(x) !== batch - (shape.length - x.shape.length)) refuse(ctx, `creates the batch axis ${batch} itself, which dynamicBatch cannot leave free`);
    shape[batch] = 1;
  }
  ctx.add("Expand", [ctx.arg(0), ctx.constant(shape)], [ctx.output]);
});

registerOnnx(ops.Cat, (ctx) => {
  const parts = ctx.node.args.slice(1).map((_, i) => ctx.arg(i + 1));
  ctx.add("Concat", parts, [ctx.output], { axis: literal<number>(ctx, 0) });
});

function conv(ctx: OnnxContext, output: string, options: ConvOptions): void {
  const weight = ctx.node.args[1] as GraphValue;
  const [ph, pw] = pair(options.padding, [0, 0]);
  const inputs = [ctx.arg(0), ctx.arg(1)];
  if (ctx.node.args[2] instanceof GraphValue) inputs.push(ctx.arg(2));
  ctx.add("Conv", inputs, [output], {
    kernel_shape: weight.shape.slice(2),
    strides: pair(options.stride, [1, 1]),
    pads: [ph, pw, ph, pw],
    dilations: pair(options.dilation, [1, 1]),
    group: options.groups ?? 1,
  });
}

function maxPool(ctx: OnnxContext, input: string, kernel: IntPair, options: PoolOptions): void {
  const k = pair(kernel, [1, 1]);
  const [ph, pw] = pair(options.padding, [0, 0]);
  ctx.add("MaxPool", [input], [ctx.output], {
    kernel_shape: k,
    strides: pair(options.stride, k),
    pads: [ph, pw, ph, pw],
    dilations: pair(options.dilation, [1, 1]),
    ceil_mode: options.ceilMode === true ? 1 : 0,
  });
}

registerOnnx(F.Conv2dFunction, (ctx) => conv(ctx, ctx.output, literal<ConvOptions>(ctx, 3) ?? {}));

registerOnnx(F.Conv2dReluMaxPool2dFunction, (ctx) => {
  const [y, r] = [ctx.temp("conv"), ctx.temp("relu")];
  conv(ctx, y, literal<ConvOptions>(ctx, 3) ?? {});
  ctx.add("Relu", [y], [r]);
  maxPool(ctx, r, literal<IntPair>(ctx, 4), literal<PoolOptions>(ctx, 5) ?? {});
});

registerOnnx(Conv2dReluFunction, (ctx) => {
  const y = ctx.temp("conv");
  conv(ctx, y, literal<ConvOptions>(ctx, 3) ?? {});
  ctx.add("Relu", [y], [ctx.output]);
});

registerOnnx(F.MaxPool2dFunction, (ctx) => maxPool(ctx, ctx.arg(0), literal<IntPair>(ctx, 1), literal<PoolOptions>(ctx, 2) ?? {}));

registerOnnx(F.AvgPool2dFunction, (ctx) => {
  const options = literal<PoolOptions>(ctx, 2) ?? {};
  if (options.divisorOverride !== undefined && options.divisorOverride !== null) refuse(ctx, "has divisorOverride, which ONNX AveragePool cannot express");
  const k = pair(literal<IntPair>(ctx, 1), [1, 1]);
  const [ph, pw] = pair(options.padding, [0, 0]);
  ctx.add("AveragePool", [ctx.arg(0)], [ctx.output], {
    kernel_shape: k,
    strides: pair(options.stride, k),
    pads: [ph, pw, ph, pw],
    ceil_mode: options.ceilMode === true ? 1 : 0,
    count_include_pad: options.countIncludePad === false ? 0 : 1,
  });
});

for (const [fn, global, local] of [
  [F.AdaptiveAvgPool2dFunction, "GlobalAveragePool", "AveragePool"],
  [F.AdaptiveMaxPool2dFunction, "GlobalMaxPool", "MaxPool"],
] as const) {
  registerOnnx(fn, (ctx) => {
    const [h, w] = inputShape(ctx).slice(-2) as [number, number];
    const [oh, ow] = ctx.node.output.shape.slice(-2) as [number, number];
    if (oh === 1 && ow === 1) {
      ctx.add(global, [ctx.arg(0)], [ctx.output]);
    } else if (h % oh === 0 && w % ow === 0) {
      const k = [h / oh, w / ow];
      ctx.add(local, [ctx.arg(0)], [ctx.output], { kernel_shape: k, strides: k });
    } else {
      refuse(ctx, `pools ${h}x${w} to ${oh}x${ow}: uneven adaptive windows have no ONNX operator (the input size must be a multiple of the output size)`);
    }
  });
}

interface BatchNormState {
  runningMean: Parameters<OnnxContext["constant"]>[0] | null;
  runningVar: Parameters<OnnxContext["constant"]>[0] | null;
  training: boolean;
  eps: number;
  relu: boolean;
}

registerOnnx(F.BatchNorm, (ctx) => {
  const state = literal<BatchNormState>(ctx, 3);
  if (state.training || state.runningMean === null || state.runningVar === null) {
    refuse(ctx, "normalises with the batch's statistics (training mode); call model.eval() before exporting");
  }
  const c = inputShape(ctx)[1]!;
  const dtype = ctx.node.output.dtype;
  const perChannel = (index: number, fill: number): string =>
    ctx.node.args[index] instanceof GraphValue ? ctx.arg(index) : ctx.constant(tensor(new Array<number>(c).fill(fill), { dtype }).data);
  const y = state.relu ? ctx.temp("bn") : ctx.output;
  ctx.add("BatchNormalization", [ctx.arg(0), perChannel(1, 1), perChannel(2, 0), ctx.constant(state.runningMean), ctx.constant(state.runningVar)], [y], {
    epsilon: float(state.eps),
  });
  if (state.relu) ctx.add("Relu", [y], [ctx.output]);
});

registerOnnx(F.AddRelu, (ctx) => {
  const sum = ctx.temp("add");
  ctx.add("Add", [ctx.arg(0), ctx.arg(1)], [sum]);
  ctx.add("Relu", [sum], [ctx.output]);
});

registerOnnx(F.LeakyRelu, (ctx) => ctx.add("LeakyRelu", [ctx.arg(0)], [ctx.output], { alpha: float(literal<number>(ctx, 1)) }));

// Activations opset 13 has (Elu, HardSigmoid, Softplus) and those it composes (GELU, SiLU, Mish, Hardswish).

registerOnnx(F.Elu, (ctx) => ctx.add("Elu", [ctx.arg(0)], [ctx.output], { alpha: float(literal<number | undefined>(ctx, 1) ?? 1) }));

/** torch's hardsigmoid, relu6(x + 3) / 6, is ONNX's HardSigmoid max(0, min(1, x/6 + 1/2)). */
function hardSigmoid(ctx: OnnxContext, input: string, output: string): void {
  ctx.add("HardSigmoid", [input], [output], { alpha: float(1 / 6), beta: float(0.5) });
}

registerOnnx(F.Hardsigmoid, (ctx) => hardSigmoid(ctx, ctx.arg(0), ctx.output));

registerOnnx(F.Hardswish, (ctx) => {
  const gate = ctx.temp("gate");
  hardSigmoid(ctx, ctx.arg(0), gate);
  ctx.add("Mul", [ctx.arg(0), gate], [ctx.output]);
});

registerOnnx(F.Silu, (ctx) => {
  const gate = ctx.temp("sigmoid");
  ctx.add("Sigmoid", [ctx.arg(0)], [gate]);
  ctx.add("Mul", [ctx.arg(0), gate], [ctx.output]);
});

registerOnnx(F.Mish, (ctx) => {
  const [soft, gate] = [ctx.temp("softplus"), ctx.temp("tanh")];
  ctx.add("Softplus", [ctx.arg(0)], [soft]);
  ctx.add("Tanh", [soft], [gate]);
  ctx.add("Mul", [ctx.arg(0), gate], [ctx.output]);
});

registerOnnx(F.Softplus, (ctx) => {
  // log(1 + exp(βx)) / β, and x itself where βx > threshold (ONNX's Softplus has neither β nor the threshold).
  const beta = literal<number | undefined>(ctx, 1) ?? 1;
  const threshold = literal<number | undefined>(ctx, 2) ?? 20;
  const dtype = ctx.node.output.dtype;
  const x = ctx.arg(0);
  const [scaled, soft, smooth, above] = [ctx.temp("scaled"), ctx.temp("softplus"), ctx.temp("smooth"), ctx.temp("above")];
  ctx.add("Mul", [x, scalar(ctx, beta, dtype)], [scaled]);
  ctx.add("Softplus", [scaled], [soft]);
  ctx.add("Div", [soft, scalar(ctx, beta, dtype)], [smooth]);
  ctx.add("Greater", [scaled, scalar(ctx, threshold, dtype)], [above]);
  ctx.add("Where", [above, x, smooth], [ctx.output]);
});

registerOnnx(F.Gelu, (ctx) => {
  const dtype = ctx.node.output.dtype;
  const x = ctx.arg(0);
  const [inner, squashed, plusOne, half] = [ctx.temp("inner"), ctx.temp("squashed"), ctx.temp("plus_one"), ctx.temp("half")];
  if ((literal<string | undefined>(ctx, 1) ?? "none") === "tanh") {
    // 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
    const [square, cube, cubic, sum] = [ctx.temp("square"), ctx.temp("cube"), ctx.temp("cubic"), ctx.temp("sum")];
    ctx.add("Mul", [x, x], [square]);
    ctx.add("Mul", [square, x], [cube]);
    ctx.add("Mul", [cube, scalar(ctx, 0.044715, dtype)], [cubic]);
    ctx.add("Add", [x, cubic], [sum]);
    ctx.add("Mul", [sum, scalar(ctx, Math.sqrt(2 / Math.PI), dtype)], [inner]);
    ctx.add("Tanh", [inner], [squashed]);
  } else {
    // 0.5 x (1 + erf(x / sqrt 2))
    ctx.add("Div", [x, scalar(ctx, Math.SQRT2, dtype)], [inner]);
    ctx.add("Erf", [inner], [squashed]);
  }
  ctx.add("Add", [squashed, scalar(ctx, 1, dtype)], [plusOne]);
  ctx.add("Mul", [x, plusOne], [half]);
  ctx.add("Mul", [half, scalar(ctx, 0.5, dtype)], [ctx.output]);
});

/** Reflect / replicate padding as PadMode2d's index maps hold it: the mode and [before, after] of one axis whose maps match, or null. */
function padOf(map: Int32Array, size: number): { mode: "reflect" | "edge"; before: number; after: number } | null {
  const total = map.length - size;
  for (let before = 0; before <= total; before++) {
    const after = total - before;
    for (const mode of ["reflect", "edge"] as const) {
      let match = true;
      for (let o = 0; o < map.length && match; o++) {
        const i = o - before;
        const want = mode === "reflect" ? (i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i) : i < 0 ? 0 : i >= size ? size - 1 : i;
        match = map[o] === want;
      }
      if (match) return { mode, before, after };
    }
  }
  return null;
}

registerOnnx(F.PadMode2d, (ctx) => {
  const shape = inputShape(ctx);
  const r = shape.length;
  const [mapH, mapW] = [literal<Int32Array>(ctx, 1), literal<Int32Array>(ctx, 2)];
  const [h, w] = [padOf(mapH, r >= 2 ? shape[r - 2]! : 1), padOf(mapW, shape[r - 1]!)];
  if (h === null || w === null || (h.before + h.after > 0 && w.before + w.after > 0 && h.mode !== w.mode)) {
    refuse(ctx, "pads in circular mode (or mixes modes), which ONNX Pad has only from opset 19 (\"wrap\"); opset 13 has constant, reflect and edge");
  }
  // A reflect map of an axis padded by 0 matches "reflect" first; the mode of the padded axis decides.
  const mode = w.before + w.after > 0 ? w.mode : h.mode;
  const before = new Array<number>(r).fill(0);
  const after = new Array<number>(r).fill(0);
  [before[r - 1], after[r - 1]] = [w.before, w.after];
  if (r >= 2) [before[r - 2], after[r - 2]] = [h.before, h.after];
  ctx.add("Pad", [ctx.arg(0), ctx.constant([...before, ...after])], [ctx.output], { mode });
});
