import { ArgumentError, type Tensor, kernels } from "@pico/core";
import { BatchNormBase } from "../layers/batch-norm.js";
import { Dropout } from "../layers/dropout.js";
import { Dropout2d } from "../layers/dropout2d.js";
import { InstanceNorm2d } from "../layers/instance-norm2d.js";
import type { AnyModule } from "../module.js";

// What data-parallel training refuses because each replica would compute something other than its share of
// one process's step. Checked before every step, since modes change (train(), eval()). BatchNorm is not
// refused: its batch statistics are synchronized across the replicas (statistics-exchange.ts).

/** Why `module` (named `name`) cannot be split by batch shards in its current mode, or null. */
function shardDependence(module: AnyModule): string | null {
  if (module instanceof InstanceNorm2d && module.training && module.trackRunningStats) {
    return "updates its running statistics from its batch, and each replica would update its own copy from its shard (train it on one thread, or without trackRunningStats)";
  }
  if ((module instanceof Dropout || module instanceof Dropout2d) && module.training && module.p > 0) {
    return "draws its masks from each thread's own random stream, so the step would differ from one process's (call .eval() on it, or train on one thread)";
  }
  return null;
}

/** Throws when a module of `model` cannot be trained by batch shards in its current mode. */
export function checkShardable(operation: string, model: AnyModule): void {
  checkModulesShardable(operation, model.namedModules());
}

/**
 * The named modules of `modules` whose kind may depend on the shard in some mode (InstanceNorm2d,
 * Dropout, Dropout2d): the only ones checkModulesShardable needs to see while the model's structure stays.
 */
export function shardDependentModules(modules: readonly [string, AnyModule][]): [string, AnyModule][] {
  const out: [string, AnyModule][] = [];
  for (const pair of modules) {
    const m = pair[1];
    if (m instanceof InstanceNorm2d || m instanceof Dropout || m instanceof Dropout2d) out.push(pair);
  }
  return out;
}

/** Throws when one of the named `modules` cannot be trained by batch shards in its current mode. */
export function checkModulesShardable(operation: string, modules: readonly (readonly [string, AnyModule])[]): void {
  for (let i = 0; i < modules.length; i++) {
    const module = modules[i]![1];
    const why = shardDependence(module);
    if (why !== null) {
      const mode = module.training ? "training" : "evaluation";
      throw new ArgumentError(`${operation}: ${module.constructor.name} "${modules[i]![0] || "(the model)"}" in ${mode} mode ${why}`);
    }
  }
}

/** The BatchNorm layers among the named `modules`: the only ones normalisesWithBatchStatistics needs to see while the model's structure stays. */
export function batchStatisticsModules(modules: readonly [string, AnyModule][]): AnyModule[] {
  const out: AnyModule[] = [];
  for (const pair of modules) if (pair[1] instanceof BatchNormBase) out.push(pair[1]);
  return out;
}

/**
 * True when one of `batchNorms` normalises with batch statistics in its current mode (training, or no
 * running statistics): a step then needs the statistics exchange, so one shard per replica.
 */
export function normalisesWithBatchStatistics(batchNorms: readonly AnyModule[]): boolean {
  for (let i = 0; i < batchNorms.length; i++) {
    const m = batchNorms[i] as BatchNormBase;
    if (m.training || m.runningMean === null) return true;
  }
  return false;
}

/** How shard losses combine into the batch's: "mean" weights each by its share of the rows, "sum" adds them. */
export type LossReduction = "mean" | "sum";

/** The loss's reduction: the option when given, else the loss module's own `reduction`, else "mean"; refuses what cannot be split. */
export function lossReduction(operation: string, loss: unknown, option: LossReduction | undefined): LossReduction {
  const own = typeof loss === "object" && loss !== null && "reduction" in loss ? (loss as { reduction: unknown }).reduction : undefined;
  if (option !== undefined && option !== "mean" && option !== "sum") {
    throw new ArgumentError(`${operation}: lossReduction must be "mean" or "sum", but got ${JSON.stringify(option)}`);
  }
  if (own !== undefined && own !== "mean" && own !== "sum") {
    throw new ArgumentError(`${operation}: the loss must reduce each shard to a scalar ("mean" or "sum"), but its reduction is ${JSON.stringify(own)}`);
  }
  if (option !== undefined && own !== undefined && option !== own) {
    throw new ArgumentError(`${operation}: lossReduction is "${option}" but the loss's own reduction is "${String(own)}"`);
  }
  const weight = typeof loss === "object" && loss !== null && "weight" in loss ? (loss as { weight: unknown }).weight : null;
  if (weight !== null && weight !== undefined && (option ?? own ?? "mean") === "mean") {
    throw new ArgumentError(
      `${operation}: a loss with class weights averages over each shard's sum of weights, so shard means do not combine into the batch's; use reduction "sum" and divide yourself, or train on one thread`,
    );
  }
  return (option ?? own ?? "mean") as LossReduction;
}

/** Refuses targets a class-index loss would skip: its mean then divides by each shard's own count of kept targets. */
export function checkIgnoredTargets(operation: string, loss: unknown, reduction: LossReduction, target: Tensor): void {
  if (reduction !== "mean" || typeof loss !== "object" || loss === null || !("ignoreIndex" in loss)) return;
  const ignore = (loss as { ignoreIndex: unknown }).ignoreIndex;
  if (typeof ignore !== "number") return;
  const flat = kernels.packed(target.data).data;
  for (let i = 0; i < flat.length; i++) {
    if (flat[i] === ignore) {
      throw new ArgumentError(
        `${operation}: the target holds ignoreIndex ${ignore}, and a mean over the kept targets of each shard does not combine into the batch's; use reduction "sum" and divide by the count yourself, or train on one thread`,
      );
    }
  }
}
