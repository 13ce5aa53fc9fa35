import type { Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

export function relu(input: Tensor): Tensor {
  checkTensor("relu", "input", input);
  return input.relu();
}

export function sigmoid(input: Tensor): Tensor {
  checkTensor("sigmoid", "input", input);
  return input.sigmoid();
}

export function tanh(input: Tensor): Tensor {
  checkTensor("tanh", "input", input);
  return input.tanh();
}

export function softmax(input: Tensor, axis = -1): Tensor {
  checkTensor("softmax", "input", input);
  return input.softmax(axis);
}

export function logSoftmax(input: Tensor, axis = -1): Tensor {
  checkTensor("logSoftmax", "input", input);
  return input.logSoftmax(axis);
}
