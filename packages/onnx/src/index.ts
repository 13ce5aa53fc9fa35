export { exportOnnx, toModelProto, ONNX_OPSET } from "./export-onnx.js";
export type { ExportOnnxOptions } from "./export-onnx.js";
export { registerOnnx, onnxEmitter, float } from "./registry.js";
export type { OnnxAttribute, OnnxContext, OnnxEmitter } from "./registry.js";
export { onnx } from "./onnx-proto.js";
