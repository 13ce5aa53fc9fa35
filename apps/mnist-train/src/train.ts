import { existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { defaultGenerator, manualSeed, type GeneratorState, type Tensor } from "@pico/core";
import { saveCheckpoint, saveSvgAsPng, writeFileAtomic } from "@pico/data";
import { CrossEntropyLoss, clipGradNorm } from "@pico/nn";
import { type DataParallel, dataParallel } from "@pico/nn/data-parallel";
import { SingleBar } from "cli-progress";
import pc from "picocolors";
import { loaderFor, mnistSplit } from "./data.js";
import { evaluate } from "./evaluate.js";
import { METRICS_FIELDS, compact, type EpochMetrics, type MetricsFile, type StepSeries } from "./metrics.js";
import { loadWeights, saveModelFile } from "./model-file.js";
import { buildModel } from "./models.js";
import { buildOptimizer, buildScheduler } from "./optimization.js";
import { curvesSvg } from "./plots/curves.js";
import { saveSamples } from "./plots/samples.js";
import { INTERRUPTED, checkWritable, displayPath, epochCheckpointName, isInRunsRoot, makeFolder, newRunFolder, pointLatest } from "./run-folder.js";
import type { Position, RunConfig, RunPlan, RunState } from "./run-plan.js";

export interface TrainOptions {
  plan: RunPlan;
  /** Data-parallel replicas, this thread included (1: train on this thread alone). */
  replicas?: number;
  log: (line: string) => void;
  /** The command that continues the run from a checkpoint, as the user should type it. */
  resumeCommand: (checkpoint: string) => string;
}

export interface TrainResult {
  /** The run's folder. */
  out: string;
  history: EpochMetrics[];
}

/** Trains, evaluating after each epoch; returns the metrics, or null when interrupted (a checkpoint was saved). */
export async function train(options: TrainOptions): Promise<TrainResult | null> {
  const { plan, log } = options;
  const { config } = plan;

  manualSeed(config.seed);
  const model = buildModel(config.model);
  const train = mnistSplit(true, config.data, config.limit);
  const test = mnistSplit(false, config.data, config.testLimit);
  const trainLoader = loaderFor(train.dataset, config.batchSize, true, config.seed, config.augment);
  const testLoader = loaderFor(test.dataset, 1000, false, 0);
  const optimizer = buildOptimizer(config.optimizer, model.parameters(), config.lr);
  const scheduler = buildScheduler(config.scheduler, optimizer, config.lr, trainLoader.length, config.epochs);
  const lossFn = new CrossEntropyLoss();

  let position: Position = { epoch: 0, batch: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  let history: EpochMetrics[] = [];
  let steps: StepSeries = { stepsPerEpoch: trainLoader.length, loss: [], accuracy: [], lr: [] };
  const resume = plan.resume;
  if (resume !== undefined) {
    loadWeights(model, resume.checkpoint.model, resume.path);
    optimizer.loadStateDict(resume.checkpoint.optimizer as Parameters<typeof optimizer.loadStateDict>[0]);
    if (scheduler !== null) scheduler.loadStateDict(resume.checkpoint.scheduler as Parameters<typeof scheduler.loadStateDict>[0]);
    defaultGenerator.setState(resume.checkpoint.rng as GeneratorState);
    position = { ...resume.state.position };
    history = [...resume.state.history];
    const saved = resume.state.steps;
    steps = { stepsPerEpoch: trainLoader.length, loss: [...saved.loss], accuracy: [...(saved.accuracy ?? [])], lr: [...saved.lr] };
  }

  const out = openRunFolder(plan);
  const latest = isInRunsRoot(out) && pointLatest(out);
  log(`writing to ${out}${latest ? " (runs/latest points here)" : ""}`);
  if (resume !== undefined) {
    const at = position.batch > 0 ? `epoch ${position.epoch + 1}/${config.epochs}, batch ${position.batch}/${trainLoader.length}` : `epoch ${position.epoch + 1}/${config.epochs}`;
    log(`resuming from ${resume.path} at ${at}`);
  }
  log(
    `training ${config.model} (${model.parameters().reduce((n, p) => n + p.size, 0).toLocaleString("en")} parameters) on ${train.dataset.length} images, ` +
      `testing on ${test.dataset.length}; ${config.optimizer} lr ${config.lr}, ${config.scheduler} schedule, batch ${config.batchSize}, seed ${config.seed}${config.augment ? ", augmented" : ""}` +
      `${config.clipGradNorm === undefined ? "" : `, gradients clipped to norm ${config.clipGradNorm}`}`,
  );

  const checkpoint = (path: string): void =>
    saveCheckpoint(path, {
      model: model.stateDict(),
      optimizer: optimizer.stateDict(),
      scheduler: scheduler?.stateDict(),
      epoch: position.epoch,
      rng: defaultGenerator.getState(),
      extra: { runId: plan.runId, model: config.model, config, position, history, steps } satisfies RunState,
    });

  const replicas = options.replicas ?? 1;
  // Each batch cut into shards, forward and backward on every replica at once (replica.js builds the same model).
  const dp: DataParallel | null =
    replicas > 1 ? await dataParallel(model, lossFn, { replicas, worker: new URL("./replica.js", import.meta.url), workerData: { model: config.model } }) : null;
  if (dp !== null) log(`data-parallel: ${replicas} replicas (this thread and ${replicas - 1} worker thread${replicas > 2 ? "s" : ""}), each batch cut into ${replicas} shards`);
  // With replicas, the same batches written where the replicas read them (DataParallel.batchBuffer), not copied there each step.
  const allocate = dp === null ? undefined : (length: number): Float32Array => dp.batchBuffer(length);
  const trainBatches = dp === null ? trainLoader : loaderFor(train.dataset, config.batchSize, true, config.seed, config.augment, allocate);
  const testBatches = dp === null ? testLoader : loaderFor(test.dataset, 1000, false, 0, false, allocate);
  /** Forward, loss and backward of one batch: the batch's logits and loss; the gradients land in .grad. */
  const forwardBackward = (inputs: Tensor, targets: Tensor): { logits: Tensor; lossValue: number } => {
    optimizer.zeroGrad();
    if (dp !== null) {
      const step = dp.forwardBackward(inputs, targets);
      return { logits: step.output, lossValue: step.loss };
    }
    const logits = model.forward(inputs);
    const loss = lossFn.forward(logits, targets);
    loss.backward();
    return { logits, lossValue: loss.item() };
  };

  let interrupted = false;
  const onSigint = (): void => {
    // A second Ctrl-C while the first is being handled (e.g. during testing) quits at once.
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  let supersedes = resume?.supersedes;
  try {
    for (let epoch = position.epoch; epoch < config.epochs; epoch++) {
      const bar = new SingleBar({
        format: `epoch ${epoch + 1}/${config.epochs} ${pc.cyan("{bar}")} {percentage}% | loss {loss} | acc {acc} | {speed} img/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
      });
      bar.start(trainLoader.length, position.batch, { loss: "-", acc: "-", speed: "-" });
      model.train();
      let lastTick = performance.now();
      let lr = optimizer.paramGroups[0]!.lr as number;
      for (const [inputs, targets] of trainBatches.batches(epoch, position.batch)) {
        lr = optimizer.paramGroups[0]!.lr as number;
        const { logits, lossValue } = forwardBackward(inputs, targets);
        if (config.clipGradNorm !== undefined) clipGradNorm(model.parameters(), config.clipGradNorm);
        // With replicas, the update split across them: the same bits as optimizer.step().
        if (dp !== null) dp.step(optimizer);
        else optimizer.step();
        scheduler?.step();
        steps.loss.push(compact(lossValue));
        steps.lr.push(compact(lr));
        position.lossSum += lossValue * targets.size;
        const correct = countCorrect(logits.argmax(1).toTypedArray(), targets.toTypedArray());
        steps.accuracy.push(compact(correct / targets.size));
        position.correct += correct;
        position.seen += targets.size;
        position.batch += 1;
        const now = performance.now();
        position.seconds += (now - lastTick) / 1000;
        lastTick = now;
        bar.update(position.batch, {
          loss: (position.lossSum / position.seen).toFixed(4),
          acc: (position.correct / position.seen).toFixed(4),
          speed: Math.round(position.seen / position.seconds),
        });
        await nextTurn();
        if (interrupted) {
          bar.stop();
          const path = join(out, INTERRUPTED);
          checkpoint(path);
          log(pc.yellow(`interrupted in epoch ${epoch + 1}/${config.epochs}, batch ${position.batch}/${trainLoader.length}: saved ${path}`));
          log(`continue this run in ${out} with: ${options.resumeCommand(path)}`);
          return null;
        }
      }
      bar.stop();
      // With replicas, the test set is inferred by shards too (a batch smaller than the replicas on this thread).
      const evaluation = evaluate(model, testBatches, dp === null ? undefined : (inputs) => (inputs.shape[0]! >= replicas ? dp.infer(inputs) : model.forward(inputs)));
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: position.lossSum / position.seen,
        trainAccuracy: position.correct / position.seen,
        testLoss: evaluation.loss,
        testAccuracy: evaluation.accuracy,
        imagesPerSecond: position.seen / position.seconds,
        seconds: position.seconds,
        lr,
      };
      history.push(metrics);
      position = { epoch: epoch + 1, batch: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      log(
        `epoch ${metrics.epoch}/${config.epochs}: train loss ${metrics.trainLoss.toFixed(4)}, train acc ${metrics.trainAccuracy.toFixed(4)}, ` +
          `test loss ${metrics.testLoss.toFixed(4)}, test acc ${pc.bold(metrics.testAccuracy.toFixed(4))}, ` +
          `${Math.round(metrics.imagesPerSecond)} img/s, ${metrics.seconds.toFixed(1)} s`,
      );
      checkpoint(join(out, epochCheckpointName(metrics.epoch)));
      const file: MetricsFile<RunConfig> = { fields: METRICS_FIELDS, runId: plan.runId, config, epochs: history, steps };
      writeFileAtomic(join(out, "metrics.json"), JSON.stringify(file, null, 2) + "\n");
      saveModelFile(join(out, "model.safetensors"), config.model, model);
      await saveSvgAsPng(curvesSvg(history, steps), join(out, "curves.png"));
      await saveSamples(join(out, "samples.png"), test.full, evaluation);
      // The epoch checkpoint now holds a later state of the run than the interrupted one it came from.
      if (supersedes !== undefined && existsSync(supersedes)) unlinkSync(supersedes);
      supersedes = undefined;
    }
  } finally {
    process.off("SIGINT", onSigint);
    await dp?.close();
  }
  log(`run saved in ${out}: metrics.json, model.safetensors, epoch-N.ckpt.safetensors (N = 1..${config.epochs}), curves.png, samples.png`);
  return { out, history };
}

/** Creates the run's folder (a new runs/<time> by default) and checks that it can be written. */
function openRunFolder(plan: RunPlan): string {
  const out = plan.outIsDefault ? newRunFolder() : plan.out;
  makeFolder(out);
  checkWritable(out);
  return displayPath(out);
}

function countCorrect(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === truth[i]) n++;
  return n;
}
