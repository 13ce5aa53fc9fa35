export { Module } from "./module.js";
export type { AnyModule, LoadStateDictOptions, LoadStateDictResult } from "./module.js";
export { Parameter } from "./parameter.js";

export { Linear } from "./layers/linear.js";
export type { LinearOptions } from "./layers/linear.js";
export { Conv2d } from "./layers/conv2d.js";
export type { Conv2dLayerOptions } from "./layers/conv2d.js";
export { MaxPool2d } from "./layers/max-pool2d.js";
export { AvgPool2d } from "./layers/avg-pool2d.js";
export type { PoolLayerOptions } from "./layers/pool.js";
export { ReLU } from "./layers/relu.js";
export { LeakyReLU } from "./layers/leaky-relu.js";
export { Sigmoid } from "./layers/sigmoid.js";
export { Tanh } from "./layers/tanh.js";
export { Softmax } from "./layers/softmax.js";
export { LogSoftmax } from "./layers/log-softmax.js";
export { Flatten } from "./layers/flatten.js";
export { Dropout } from "./layers/dropout.js";
export { Identity } from "./layers/identity.js";
export { BatchNormBase } from "./layers/batch-norm.js";
export type { BatchNormLayerOptions } from "./layers/batch-norm.js";
export { BatchNorm1d } from "./layers/batch-norm1d.js";
export { BatchNorm2d } from "./layers/batch-norm2d.js";
export { Sequential } from "./layers/sequential.js";
export type { TensorModule } from "./layers/sequential.js";

export { CrossEntropyLoss } from "./losses/cross-entropy-loss.js";
export type { CrossEntropyLossOptions } from "./losses/cross-entropy-loss.js";
export { NLLLoss } from "./losses/nll-loss.js";
export type { NLLLossOptions } from "./losses/nll-loss.js";
export { MSELoss } from "./losses/mse-loss.js";
export { BCEWithLogitsLoss } from "./losses/bce-with-logits-loss.js";
export type { BCEWithLogitsLossOptions } from "./losses/bce-with-logits-loss.js";

export * as init from "./init.js";
export type { FanMode, KaimingOptions, Nonlinearity, RandomInitOptions, XavierOptions } from "./init.js";
export * as F from "./functional/index.js";
export type { Conv2dOptions, Pool2dOptions, AvgPool2dOptions, IntPair, Reduction } from "./functional/index.js";
