import { ArgumentError, GraphValue, ops, tensor, type DType, type FunctionClass } from "@pico/core";
import { F, type IntPair } from "@pico/nn";
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

registerOnnx(ops.Addmm, (ctx) => ctx.add("Gemm", [ctx.arg(1), ctx.arg(2), ctx.arg(0)], [ctx.output]));

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
  ctx.add("Reshape", [ctx.arg(0), ctx.constant(to.map((d, i) => (i < keep ? 0 : d)))], [ctx.output]);
});

registerOnnx(ops.Permute, (ctx) => ctx.add("Transpose", [ctx.arg(0)], [ctx.output], { perm: literal<number[]>(ctx, 1) }));

registerOnnx(ops.Slice, (ctx) => {
  const [axis, start, end] = [literal<number>(ctx, 1), literal<number>(ctx, 2), literal<number>(ctx, 3)];
  ctx.add("Slice", [ctx.arg(0), ctx.constant([start]), ctx.constant([end]), ctx.constant([axis])], [ctx.output]);
});

registerOnnx(ops.Pad, (ctx) => {
  const [before, after, value] = [literal<number[]>(ctx, 1), literal<number[]>(ctx, 2), literal<number>(ctx, 3)];
  ctx.add("Pad", [ctx.arg(0), ctx.constant([...before, ...after]), scalar(ctx, value, ctx.node.output.dtype)], [ctx.output], { mode: "constant" });
});

registerOnnx(ops.Expand, (ctx) => ctx.add("Expand", [ctx.arg(0), ctx.constant(ctx.node.output.shape)], [ctx.output]));

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
