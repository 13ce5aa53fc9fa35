import { type Module, referenceCnn, resnet8 } from "@pico/nn";

/** The models of mnist-train this page can run, by the names its model files carry. */
export const WEB_MODELS = ["lenet", "resnet"] as const;
export type WebModelName = (typeof WEB_MODELS)[number];

export function buildModel(name: WebModelName): Module {
  return name === "resnet" ? resnet8({ inChannels: 1, numClasses: 10 }) : referenceCnn();
}

/** The model a file's metadata (model.safetensors) or training state (a checkpoint) names. */
export function modelNameOf(fileName: string, metadata: Record<string, string>, extra: unknown): WebModelName {
  const fromExtra = typeof extra === "object" && extra !== null ? (extra as { model?: unknown }).model : undefined;
  const name = fromExtra ?? metadata.model;
  if (name === undefined) {
    throw new Error(`${fileName} does not say which model it holds (no "model" in its metadata): it was not written by mnist-train or this page`);
  }
  if (!WEB_MODELS.includes(name as WebModelName)) {
    throw new Error(`${fileName} holds model ${JSON.stringify(name)}, but this page runs ${WEB_MODELS.join(" and ")}`);
  }
  return name as WebModelName;
}
