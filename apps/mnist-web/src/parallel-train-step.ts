import { ArgumentError, PicoError, type Tensor } from "@pico/core";
import { type DataParallel, ReplicaError } from "@pico/nn/data-parallel-web";

/**
 * A data-parallel training step failed before its gradient was in and before the optimizer stepped (a
 * check of the batch, a replica's shard, a model that cannot be trained by shards): the weights, the
 * optimizer's state and every `.grad` are as they were before it, so the step may run again elsewhere.
 * `cause` is DataParallel's error.
 */
export class FailedBeforeGradientsError extends PicoError {
  override name = "FailedBeforeGradientsError";
}

/**
 * A data-parallel training step failed once the optimizer had stepped: in its update, or in a replica's
 * gradient sum after `optimizer.step()` had run (no weight updated, but counters such as Adam's step
 * count advanced). Its `cause` (DataParallel's error) says what the step left, and the step must not run again.
 */
export class FailedInUpdateError extends PicoError {
  override name = "FailedInUpdateError";
}

/**
 * The loss of `dp.trainStep(inputs, targets, optimizer)` (the batch's gradient from the replicas' shards and
 * the optimizer's update, the same bits as forwardBackward then optimizer.step()). Every `.grad` of
 * `parameters` must be null before it (zeroGrad's default): DataParallel leaves the `.grad`s as they were
 * when a step fails before its gradient is in, so a failure with every `.grad` still null and no
 * `optimizer.step()` run (a ReplicaError's `optimizerStepped`: a replica's gradient sum failed after the
 * update was recorded) throws FailedBeforeGradientsError, any other FailedInUpdateError, each with
 * DataParallel's error as its cause.
 */
export function parallelTrainStep(parallel: Pick<DataParallel, "trainStep">, inputs: Tensor, targets: Tensor, optimizer: { step(): unknown }, parameters: readonly Tensor[]): number {
  const op = "mnist-web parallelTrainStep";
  const held = parameters.findIndex((p) => p.grad !== null);
  if (held >= 0) throw new ArgumentError(`${op}: every parameter's .grad must be null before the step (zeroGrad()), but parameter ${held}'s is not`);
  try {
    return parallel.trainStep(inputs, targets, optimizer).loss;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const stepped = error instanceof ReplicaError && error.optimizerStepped;
    if (!stepped && parameters.every((p) => p.grad === null)) throw new FailedBeforeGradientsError(`${op}: the step failed before its gradient was in, and left the model as it was: ${text}`, { cause: error });
    throw new FailedInUpdateError(`${op}: the step failed once optimizer.step() had run: ${text}`, { cause: error });
  }
}
