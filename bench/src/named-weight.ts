import { Generator, tensor } from "@pico/core";
import type { Tensor } from "@pico/core";

/** One parameter of a benchmark network, in Pico.ts (PyTorch) layout and naming. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** How a parameter starts: PyTorch's default for convolutions and linear layers, or BatchNorm's γ = 1, β = 0. */
export type WeightInit = { kind: "uniform"; fanIn: number } | { kind: "ones" } | { kind: "zeros" };

export interface ParameterSpec {
  name: string;
  shape: number[];
  init: WeightInit;
}

/**
 * PyTorch's default initialisation (kaiming-uniform with a = sqrt(5), which gives the bound
 * 1/sqrt(fanIn) for weights and biases alike), drawn in order from one seeded generator so that
 * every system starts from exactly the same numbers.
 */
export function initialWeights(specs: readonly ParameterSpec[], seed: number): NamedWeight[] {
  const gen = new Generator(seed);
  return specs.map(({ name, shape, init }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (init.kind === "ones") data.fill(1);
    else if (init.kind === "uniform") {
      const bound = 1 / Math.sqrt(init.fanIn);
      for (let i = 0; i < size; i++) data[i] = (gen.random() * 2 - 1) * bound;
    }
    return { name, shape: [...shape], data };
  });
}

export function weightByName(weights: readonly NamedWeight[], name: string): NamedWeight {
  const found = weights.find((w) => w.name === name);
  if (found === undefined) {
    throw new Error(`benchmark network: no weight named "${name}" (have ${weights.map((w) => w.name).join(", ")})`);
  }
  return found;
}

/** The weights as tensors by name, for Module.loadStateDict. */
export function stateDictOf(weights: readonly NamedWeight[]): Record<string, Tensor> {
  return Object.fromEntries(weights.map((w) => [w.name, tensor(w.data, { shape: w.shape })]));
}
