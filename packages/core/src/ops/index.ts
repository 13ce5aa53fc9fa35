// The Function classes behind Tensor's operators, for code that maps them to other formats (ONNX export).
export { Add, Sub, Mul, Div, Pow, Maximum, Minimum } from "./binary.js";
export { Neg, Exp, Log, Sqrt, Abs, Relu, Sigmoid, Tanh, Clamp } from "./unary.js";
export { MatMul } from "./matmul.js";
export { Addmm } from "./addmm.js";
export { LogSoftmax, Softmax } from "./softmax.js";
export { Cast } from "./cast.js";
export { Sum, Max, Min } from "./reduce.js";
export { Reshape, Permute, Slice, Pad, Expand, Cat } from "./movement.js";
