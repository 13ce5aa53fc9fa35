import { ArgumentError, type FunctionClass, type GraphNode, type GraphValue, type NDArray } from "@pico/core";

/** An ONNX attribute: an integer (or list of integers), a string, or a float marked with `float()`. */
export type OnnxAttribute = number | readonly number[] | string | { readonly float: number } | { readonly floats: readonly number[] };

/** Marks a number as a FLOAT attribute (plain numbers are INT). */
export function float(value: number): { readonly float: number } {
  return { float: value };
}

/** What an emitter gets to translate one graph node into ONNX nodes. */
export interface OnnxContext {
  readonly node: GraphNode;
  /** The ONNX name of the tensor the node received as argument `index` (an index into node.args). */
  arg(index: number): string;
  /** The ONNX name the node's output must get. */
  readonly output: string;
  /** A fresh name for an intermediate of this node's ONNX sequence. */
  temp(suffix: string): string;
  /** Appends an ONNX node of the default domain. */
  add(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: Readonly<Record<string, OnnxAttribute>>): void;
  /** An initializer holding `values` (int64 for a number list, the array's float type for an ndarray); returns its name. */
  constant(values: NDArray | readonly number[], hint?: string): string;
  /**
   * With exportOnnx's dynamicBatch: the axis of `value` whose size follows the batch size (found by
   * tracing at two batch sizes), so that an emitter writing a shape into the graph leaves it free;
   * null without dynamicBatch or for a value the batch size does not change.
   */
  batchAxis(value: GraphValue): number | null;
}

/** Translates one call of a Function into ONNX nodes that write ctx.output. */
export type OnnxEmitter = (ctx: OnnxContext) => void;

const emitters = new Map<FunctionClass, OnnxEmitter>();

/**
 * Maps a Function to its ONNX translation, for exportOnnx: the extension point for custom Functions.
 * A later registration of the same Function replaces the earlier one.
 */
export function registerOnnx(fn: FunctionClass, emitter: OnnxEmitter): void {
  if (typeof fn !== "function" || typeof emitter !== "function") {
    throw new ArgumentError(`registerOnnx: expected a Function class and an emitter (ctx) => void, but got ${typeof fn} and ${typeof emitter}`);
  }
  emitters.set(fn, emitter);
}

/** The emitter registered for `fn`, or undefined. */
export function onnxEmitter(fn: FunctionClass): OnnxEmitter | undefined {
  return emitters.get(fn);
}
