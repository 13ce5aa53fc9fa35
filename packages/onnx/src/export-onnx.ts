import { ArgumentError, GraphValue, Tensor, kernels, trace, type DType, type Graph, type NDArray, type TraceTarget } from "@pico/core";
import "./builtin-emitters.js";
import { onnx, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from "./onnx-proto.js";
import { onnxEmitter, type OnnxAttribute, type OnnxContext } from "./registry.js";

export interface ExportOnnxOptions {
  /** Names of the graph inputs, in order. Default "input" (or input_0, input_1, ... for several). */
  inputNames?: readonly string[];
  /** Names of the graph outputs, in order. Default "output" (or output_0, ...). */
  outputNames?: readonly string[];
  /**
   * Compute every node that no graph input reaches (a BatchNorm folded into a convolution, a transposed
   * weight) once at export time and store the result as an initializer, as torch.onnx.export's
   * do_constant_folding. Default true.
   */
  foldConstants?: boolean;
  /** The graph's name in the model. Default "pico". */
  graphName?: string;
  /**
   * Leave the batch size free (torch.onnx.export's dynamic_axes={"input": {0: "batch"}, ...}): axis 0
   * of every input, and the axis of every output and shape that follows it, becomes the symbolic
   * dimension "batch". The batch axis of each value is found by tracing again with one more sample; a
   * graph whose shapes do not follow the batch size that way (a slice inside the batch axis, a shape
   * that depends on it otherwise) is refused. Default false.
   */
  dynamicBatch?: boolean;
}

const OPTIONS = ["inputNames", "outputNames", "foldConstants", "graphName", "dynamicBatch"] as const;

/** The ONNX opset the export targets. */
export const ONNX_OPSET = 13;

const ELEM_TYPE: Record<DType, number> = { float32: onnx.TensorProto.DataType.FLOAT, float64: onnx.TensorProto.DataType.DOUBLE };

/** What exportOnnx needs of an nn Module beyond tracing: its mode, to export in evaluation. */
interface ModeSwitchable {
  modules?(): Iterable<{ training: boolean }>;
}

/**
 * Traces `model` on `exampleInputs` (see trace) and returns the forward as an ONNX model (opset 13):
 * the bytes of a ModelProto, encoded with protobufjs from the official onnx.proto. A Module is
 * exported in evaluation mode (Dropout the identity, BatchNorm with its running statistics), as
 * torch.onnx.export does, and left in the mode it had. Shapes are the example's (no symbolic axes).
 * A Function without an ONNX mapping is refused with its name; registerOnnx adds one.
 */
export function exportOnnx(model: TraceTarget, exampleInputs: Tensor | readonly Tensor[], options: ExportOnnxOptions = {}): Uint8Array {
  const unknown = Object.keys(options).filter((k) => !(OPTIONS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new ArgumentError(`exportOnnx: unknown option ${unknown.map((k) => `'${k}'`).join(", ")}; the options are ${OPTIONS.join(", ")}`);
  const graph = traceInEval(model, exampleInputs);
  const batchAxes = options.dynamicBatch === true ? findBatchAxes(graph, traceInEval(model, withOneMoreSample(exampleInputs))) : undefined;
  return onnx.ModelProto.encode(toModelProto(graph, options, batchAxes)).finish();
}

function traceInEval(model: TraceTarget, exampleInputs: Tensor | readonly Tensor[]): Graph {
  const modules = typeof model === "object" && model !== null && typeof (model as ModeSwitchable).modules === "function" ? [...(model as ModeSwitchable).modules!()] : [];
  const modes = modules.map((m) => m.training);
  for (const m of modules) m.training = false;
  try {
    return trace(model, exampleInputs);
  } finally {
    modules.forEach((m, i) => (m.training = modes[i]!));
  }
}

/**
 * The ModelProto of a traced graph (exportOnnx without the tracing and encoding). With dynamicBatch,
 * `batchAxes` gives each value's batch axis (see findBatchAxes).
 */
export function toModelProto(graph: Graph, options: ExportOnnxOptions = {}, batchAxes?: ReadonlyMap<GraphValue, number>): ModelProto {
  if (options.dynamicBatch === true && batchAxes === undefined) {
    throw new ArgumentError("exportOnnx: dynamicBatch needs the batch axis of every value (findBatchAxes of the graph traced at two batch sizes); exportOnnx finds them");
  }
  const batchAxis = (v: GraphValue): number | null => batchAxes?.get(v) ?? null;
  const fold = options.foldConstants ?? true;
  const names = new Map<GraphValue, string>();
  const used = new Set<string>();
  const unique = (base: string): string => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
  const inputNames = options.inputNames ?? graph.inputs.map((_, i) => (graph.inputs.length === 1 ? "input" : `input_${i}`));
  const outputNames = options.outputNames ?? graph.outputs.map((_, i) => (graph.outputs.length === 1 ? "output" : `output_${i}`));
  checkNames("inputNames", inputNames, graph.inputs.length);
  checkNames("outputNames", outputNames, graph.outputs.length);
  graph.inputs.forEach((v, i) => names.set(v, unique(inputNames[i]!)));

  const initializers: TensorProto[] = [];
  const byArray = new Map<NDArray, string>();
  const namedArrays = new Map<NDArray, string>([...graph.namedTensors].map(([name, t]) => [t.data, name] as const));
  const constant = (values: NDArray | readonly number[], hint = "const"): string => {
    if (!Array.isArray(values)) {
      const array = values as NDArray;
      const known = byArray.get(array);
      if (known !== undefined) return known;
      const name = unique(namedArrays.get(array) ?? hint);
      initializers.push(floatTensor(name, array));
      byArray.set(array, name);
      return name;
    }
    const name = unique(hint);
    initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: [...(values as number[])] });
    return name;
  };
  const nameOf = (v: GraphValue): string => {
    const known = names.get(v);
    if (known !== undefined) return known;
    const folded = v.kind === "intermediate" && fold && v.isStatic;
    if (v.kind === "intermediate" && !folded) throw new ArgumentError(`exportOnnx: node ${v.name} is read before it is computed`);
    const name = constant(v.example.data, v.name);
    names.set(v, name);
    return name;
  };

  const nodes: NodeProto[] = [];
  const outputs = new Set(graph.outputs);
  for (const node of graph.nodes) {
    if (fold && node.output.isStatic && !outputs.has(node.output)) continue;
    const emitter = onnxEmitter(node.fn);
    if (emitter === undefined) {
      throw new ArgumentError(
        `exportOnnx: Function ${node.fn.name} (node ${node.name}) has no ONNX mapping; register one before exporting: ` +
          `registerOnnx(${node.fn.name}, (ctx) => ctx.add("OnnxOp", [ctx.arg(0)], [ctx.output], { attribute: 1 })) from @pico/onnx`,
      );
    }
    const output = unique(node.name);
    names.set(node.output, output);
    const ctx: OnnxContext = {
      node,
      output,
      arg(index) {
        const a = node.args[index];
        if (!(a instanceof GraphValue)) throw new ArgumentError(`exportOnnx: the emitter of ${node.fn.name} asked for argument ${index} as a tensor, but it is ${typeof a}`);
        return nameOf(a);
      },
      temp: (suffix) => unique(`${node.name}_${suffix}`),
      add(opType, inputs, outs, attributes = {}) {
        nodes.push({ opType, input: [...inputs], output: [...outs], name: unique(`${node.name}/${opType}`), attribute: Object.entries(attributes).map(([k, a]) => attribute(k, a)) });
      },
      constant,
      batchAxis,
    };
    emitter(ctx);
  }

  const graphOutputs = graph.outputs.map((v, i) => {
    const name = outputNames[i]!;
    const source = nameOf(v);
    nodes.push({ opType: "Identity", input: [source], output: [name], name: unique(`${name}/Identity`) });
    return valueInfo(name, v, batchAxis(v));
  });
  return onnx.ModelProto.create({
    irVersion: 7,
    producerName: "pico.ts",
    producerVersion: "0.1.0",
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    graph: {
      name: options.graphName ?? "pico",
      node: nodes,
      initializer: initializers,
      input: graph.inputs.map((v) => valueInfo(names.get(v)!, v, batchAxis(v))),
      output: graphOutputs,
    },
  });
}

function checkNames(option: string, names: readonly string[], count: number): void {
  if (!Array.isArray(names) || names.length !== count || !names.every((n) => typeof n === "string" && n.length > 0) || new Set(names).size !== count) {
    throw new ArgumentError(`exportOnnx: ${option} must be ${count} distinct non-empty names, one per graph ${option.startsWith("input") ? "input" : "output"}, but got ${JSON.stringify(names)}`);
  }
}

function floatTensor(name: string, array: NDArray): TensorProto {
  const dtype = kernels.dtypeOf(array);
  const data = kernels.packed(array).data;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims: [...array.shape], dataType: ELEM_TYPE[dtype], rawData: bytes };
}

function valueInfo(name: string, v: GraphValue, batchAxis: number | null): ValueInfoProto {
  const dim = v.shape.map((d, axis) => (axis === batchAxis ? { dimParam: "batch" } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: ELEM_TYPE[v.dtype], shape: { dim } } } };
}

/** The example inputs with their first sample appended along axis 0 (a batch one larger). */
function withOneMoreSample(exampleInputs: Tensor | readonly Tensor[]): Tensor[] {
  const inputs = Array.isArray(exampleInputs) ? (exampleInputs as readonly Tensor[]) : [exampleInputs as Tensor];
  return inputs.map((x, i) => {
    if (x.ndim === 0 || x.shape[0] === 0) {
      throw new ArgumentError(`exportOnnx: dynamicBatch needs every input to have a batch axis 0 of size >= 1, but input ${i} has shape [${x.shape.join(", ")}]`);
    }
    return Tensor.cat([x.detach(), x.detach().narrow(0, 0, 1)], 0);
  });
}

/**
 * Each value's batch axis: the one axis whose size differs between `graph` and `larger` (the same
 * forward traced with one more sample). Refuses a graph whose operators differ between the two, a
 * value with several such axes, and inputs or outputs whose batch axis is not where it belongs.
 */
export function findBatchAxes(graph: Graph, larger: Graph): Map<GraphValue, number> {
  const axes = new Map<GraphValue, number>();
  const same = graph.nodes.length === larger.nodes.length && graph.nodes.every((n, i) => n.fn === larger.nodes[i]!.fn);
  if (!same || graph.outputs.length !== larger.outputs.length) {
    throw new ArgumentError("exportOnnx: dynamicBatch: the forward runs other operators at another batch size, so no one graph serves every batch size; export at a fixed batch size");
  }
  const note = (v: GraphValue, w: GraphValue, where: string): void => {
    const differing = v.shape.map((d, axis) => (d !== w.shape[axis] ? axis : -1)).filter((axis) => axis >= 0);
    if (v.shape.length !== w.shape.length || differing.length > 1) {
      throw new ArgumentError(
        `exportOnnx: dynamicBatch: ${where} has shape [${v.shape.join(", ")}] at batch ${graph.inputs[0]!.shape[0]} but [${w.shape.join(", ")}] one sample later: ` +
          "its shape does not follow the batch size along one axis; export at a fixed batch size",
      );
    }
    if (differing.length === 1) axes.set(v, differing[0]!);
  };
  graph.inputs.forEach((v, i) => note(v, larger.inputs[i]!, `input ${i}`));
  graph.nodes.forEach((n, i) => note(n.output, larger.nodes[i]!.output, `node ${n.name} (${n.fn.name})`));
  graph.outputs.forEach((v, i) => note(v, larger.outputs[i]!, `output ${i}`));
  return axes;
}

function attribute(name: string, value: OnnxAttribute): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "number") return { name, type: T.INT, i: value };
  if (typeof value === "string") {
    if (!/^[\x20-\x7e]*$/.test(value)) throw new ArgumentError(`exportOnnx: string attribute ${name} must be printable ASCII, but got ${JSON.stringify(value)}`);
    return { name, type: T.STRING, s: Uint8Array.from(value, (c) => c.charCodeAt(0)) };
  }
  if (isList(value)) return { name, type: T.INTS, ints: [...value] };
  if ("float" in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.FLOATS, floats: [...value.floats] };
}

function isList(value: OnnxAttribute): value is readonly number[] {
  return Array.isArray(value);
}
