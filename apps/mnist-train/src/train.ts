import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { defaultGenerator, manualSeed, tensor, type GeneratorState } from "@pico/core";
import { loadCheckpoint, saveCheckpoint, saveImageGrid, saveSvgAsPng, writeFileAtomic, type MNIST } from "@pico/data";
import { CrossEntropyLoss } from "@pico/nn";
import { SingleBar } from "cli-progress";
import pc from "picocolors";
import type { ModelName, OptimizerName, SchedulerName } from "./args.js";
import { loaderFor, mnistSplit } from "./data.js";
import { InputError } from "./errors.js";
import { evaluate, type Evaluation } from "./evaluate.js";
import type { EpochMetrics } from "./metrics.js";
import { loadWeights, saveModelFile } from "./model-file.js";
import { buildModel } from "./models.js";
import { buildOptimizer, buildScheduler } from "./optimization.js";
import { curvesSvg } from "./plots/curves.js";

/** Everything that decides the numbers a run produces; stored in each checkpoint so a resume repeats them. */
export interface RunConfig {
  model: ModelName;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  scheduler: SchedulerName;
  seed: number;
  limit: number | undefined;
  testLimit: number | undefined;
}

export interface TrainOptions {
  config: RunConfig;
  data: string | undefined;
  out: string;
  resume: string | undefined;
  log: (line: string) => void;
}

/** Where a run stands: `batch` batches of epoch `epoch` (0-based) are done, with their running sums. */
interface Position {
  epoch: number;
  batch: number;
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

interface Extra {
  model: ModelName;
  config: RunConfig;
  position: Position;
  history: EpochMetrics[];
}

/** Trains, evaluating after each epoch; returns the metrics, or null when interrupted (a checkpoint was saved). */
export async function train(options: TrainOptions): Promise<EpochMetrics[] | null> {
  const { out, log } = options;
  mkdirSync(out, { recursive: true });
  const resumed = options.resume === undefined ? undefined : readResume(options.resume, options.config);
  const config = resumed?.config ?? options.config;

  manualSeed(config.seed);
  const model = buildModel(config.model);
  const train = mnistSplit(true, options.data, config.limit);
  const test = mnistSplit(false, options.data, config.testLimit);
  const trainLoader = loaderFor(train.dataset, config.batchSize, true, config.seed);
  const testLoader = loaderFor(test.dataset, 1000, false, 0);
  const optimizer = buildOptimizer(config.optimizer, model.parameters(), config.lr);
  const scheduler = buildScheduler(config.scheduler, optimizer, config.lr, trainLoader.length, config.epochs);
  const lossFn = new CrossEntropyLoss();

  let position: Position = { epoch: 0, batch: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  let history: EpochMetrics[] = [];
  if (resumed !== undefined) {
    loadWeights(model, resumed.checkpoint.model, options.resume!);
    optimizer.loadStateDict(resumed.checkpoint.optimizer as Parameters<typeof optimizer.loadStateDict>[0]);
    if (scheduler !== null) scheduler.loadStateDict(resumed.checkpoint.scheduler as Parameters<typeof scheduler.loadStateDict>[0]);
    defaultGenerator.setState(resumed.checkpoint.rng as GeneratorState);
    position = resumed.extra.position;
    history = resumed.extra.history;
    log(`resuming ${config.model} from ${options.resume}: epoch ${position.epoch + 1}, batch ${position.batch}/${trainLoader.length}`);
  }

  log(
    `training ${config.model} (${model.parameters().reduce((n, p) => n + p.size, 0).toLocaleString("en")} parameters) on ${train.dataset.length} images, ` +
      `testing on ${test.dataset.length}; ${config.optimizer} lr ${config.lr}, ${config.scheduler} schedule, batch ${config.batchSize}, seed ${config.seed}`,
  );

  const checkpoint = (path: string): void =>
    saveCheckpoint(path, {
      model: model.stateDict(),
      optimizer: optimizer.stateDict(),
      scheduler: scheduler?.stateDict(),
      epoch: position.epoch,
      rng: defaultGenerator.getState(),
      extra: { model: config.model, config, position, history } satisfies Extra,
    });

  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
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
      for (const [inputs, targets] of trainLoader.batches(epoch, position.batch)) {
        const logits = model.forward(inputs);
        const loss = lossFn.forward(logits, targets);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        scheduler?.step();
        position.lossSum += loss.item() * targets.size;
        position.correct += countCorrect(logits.argmax(1).toTypedArray(), targets.toTypedArray());
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
          const path = join(out, "interrupted.ckpt.safetensors");
          checkpoint(path);
          log(pc.yellow(`interrupted: saved ${path}; continue with --resume ${path}`));
          return null;
        }
      }
      bar.stop();
      const evaluation = evaluate(model, testLoader);
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: position.lossSum / position.seen,
        trainAccuracy: position.correct / position.seen,
        testLoss: evaluation.loss,
        testAccuracy: evaluation.accuracy,
        imagesPerSecond: position.seen / position.seconds,
        seconds: position.seconds,
        lr: optimizer.paramGroups[0]!.lr as number,
      };
      history.push(metrics);
      position = { epoch: epoch + 1, batch: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      log(
        `epoch ${metrics.epoch}/${config.epochs}: train loss ${metrics.trainLoss.toFixed(4)}, train acc ${metrics.trainAccuracy.toFixed(4)}, ` +
          `test loss ${metrics.testLoss.toFixed(4)}, test acc ${pc.bold(metrics.testAccuracy.toFixed(4))}, ` +
          `${Math.round(metrics.imagesPerSecond)} img/s, ${metrics.seconds.toFixed(1)} s`,
      );
      checkpoint(join(out, `epoch-${metrics.epoch}.ckpt.safetensors`));
      writeFileAtomic(join(out, "metrics.json"), JSON.stringify({ config, epochs: history }, null, 2) + "\n");
      saveModelFile(join(out, "model.safetensors"), config.model, model);
      await saveSvgAsPng(curvesSvg(history), join(out, "curves.png"));
      await saveSamples(join(out, "samples.png"), test.full, evaluation);
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  return history;
}

function countCorrect(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === truth[i]) n++;
  return n;
}

function readResume(path: string, requested: RunConfig): { config: RunConfig; checkpoint: ReturnType<typeof loadCheckpoint>; extra: Extra } {
  const checkpoint = loadCheckpoint(path);
  const extra = checkpoint.extra as Extra | undefined;
  if (extra?.config === undefined || extra.position === undefined) {
    throw new InputError(`--resume ${path}: this file holds weights only, not a training checkpoint (use a *.ckpt.safetensors file from --out)`);
  }
  if (extra.config.model !== requested.model) {
    throw new InputError(`--resume ${path}: the checkpoint is for model ${extra.config.model}, but --model is ${requested.model}`);
  }
  return { config: { ...extra.config, epochs: requested.epochs }, checkpoint, extra };
}

/** The first test digits with predicted/true labels; mistakes in red, and some mistakes added if none show. */
async function saveSamples(path: string, test: MNIST, evaluation: Evaluation): Promise<void> {
  const count = Math.min(64, evaluation.predictions.length);
  const indices = Array.from({ length: count }, (_, i) => i);
  const mistakes: number[] = [];
  for (let i = count; i < evaluation.predictions.length && mistakes.length < 8; i++) {
    if (evaluation.predictions[i] !== evaluation.labels[i]) mistakes.push(i);
  }
  indices.splice(count - mistakes.length, mistakes.length, ...mistakes);
  const images = new Float32Array(indices.length * 784);
  indices.forEach((index, k) => test.getInto(index, images, k * 784));
  const labels = indices.map((i) => `${evaluation.predictions[i]}/${evaluation.labels[i]}`);
  const labelColors = indices.map((i) => (evaluation.predictions[i] === evaluation.labels[i] ? "white" : "#ff4040"));
  await saveImageGrid(tensor(images, { shape: [indices.length, 1, 28, 28] }), path, { nrow: 8, scale: 3, labels, labelColors });
}
