import type { Tensor } from "@pico/core";
import { checkStateDictCompatible, loadCheckpoint, loadSafetensors, saveSafetensors } from "@pico/data";
import { MODELS, type ModelName } from "./args.js";
import { InputError } from "./errors.js";
import { buildModel } from "./models.js";
import { checkCheckpointFile } from "./run-folder.js";
import type { Module } from "@pico/nn";

/** Writes the weights alone, with the model's name, as a plain safetensors file any reader can load. */
export function saveModelFile(path: string, modelName: ModelName, model: Module): void {
  saveSafetensors(path, model.stateDict(), { model: modelName, framework: "pico.ts" });
}

/** The model named by a checkpoint or model.safetensors file, with its weights loaded and checked. */
export function loadModelFile(path: string): { modelName: ModelName; model: Module } {
  checkCheckpointFile(path, "--checkpoint");
  const checkpoint = loadCheckpoint(path);
  const modelName = checkpoint.extra !== undefined ? modelOfExtra(checkpoint.extra) : modelOfMetadata(path);
  const model = buildModel(modelName);
  loadWeights(model, checkpoint.model, path);
  return { modelName, model };
}

export function loadWeights(model: Module, weights: Record<string, Tensor>, path: string): void {
  checkStateDictCompatible(model.stateDict(), weights, path);
  model.loadStateDict(weights);
}

function modelOfExtra(extra: unknown): ModelName {
  const name = (extra as { model?: unknown }).model;
  return checkModelName(name, "its training state");
}

function modelOfMetadata(path: string): ModelName {
  const { metadata } = loadSafetensors(path);
  if (metadata.model === undefined) {
    throw new InputError(`${path} does not say which model it holds (no "model" in its metadata); it was not written by mnist-train`);
  }
  return checkModelName(metadata.model, "its metadata");
}

function checkModelName(name: unknown, where: string): ModelName {
  if (typeof name !== "string" || !MODELS.includes(name as ModelName)) {
    throw new InputError(`the checkpoint names model ${JSON.stringify(name)} in ${where}, but mnist-train knows ${MODELS.join(", ")}`);
  }
  return name as ModelName;
}
