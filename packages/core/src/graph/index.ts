export { Graph, GraphValue, formatArg } from "./graph.js";
export type { GraphNode, ValueKind } from "./graph.js";
export { trace } from "./trace.js";
export type { Traceable, TraceTarget } from "./trace.js";
export { toDot } from "./dot.js";
export type { DotOptions } from "./dot.js";
