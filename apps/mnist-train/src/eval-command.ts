import { dirname, join } from "node:path";
import { saveSvgAsPng } from "@pico/data";
import { loaderFor, mnistSplit } from "./data.js";
import { evaluate } from "./evaluate.js";
import { loadModelFile } from "./model-file.js";
import { confusionSvg } from "./plots/confusion.js";
import { checkWritable, makeFolder } from "./run-folder.js";

export interface EvalOptions {
  checkpoint: string;
  data: string | undefined;
  batchSize: number;
  testLimit: number | undefined;
  out: string | undefined;
  log: (line: string) => void;
}

/** Test accuracy, per-class accuracy and the confusion matrix of a saved model. */
export async function evalCommand(options: EvalOptions): Promise<number> {
  const { model, modelName } = loadModelFile(options.checkpoint);
  const folder = options.out ?? dirname(options.checkpoint);
  makeFolder(folder);
  checkWritable(folder);
  const test = mnistSplit(false, options.data, options.testLimit);
  const result = evaluate(model, loaderFor(test.dataset, options.batchSize, false, 0));
  const classes = test.full.classes;
  const matrix = classes.map(() => new Array<number>(classes.length).fill(0));
  result.labels.forEach((label, i) => matrix[label]![result.predictions[i]!]! += 1);
  const log = options.log;
  log(`${modelName} from ${options.checkpoint} on ${result.labels.length} test images: loss ${result.loss.toFixed(4)}`);
  log("");
  log("class  accuracy   count");
  classes.forEach((name, c) => {
    const total = matrix[c]!.reduce((a, b) => a + b, 0);
    log(`${name.padStart(5)}  ${total ? (matrix[c]![c]! / total).toFixed(4) : "   -  "}  ${String(total).padStart(6)}`);
  });
  log("");
  log("confusion matrix (rows: true class, columns: predicted)");
  log(`      ${classes.map((c) => c.padStart(5)).join("")}`);
  matrix.forEach((row, c) => log(`${classes[c]!.padStart(5)} ${row.map((v) => String(v).padStart(5)).join("")}`));
  const png = join(folder, "confusion.png");
  await saveSvgAsPng(confusionSvg(matrix, classes), png);
  log("");
  log(`confusion matrix saved to ${png}`);
  log(`test accuracy: ${result.accuracy.toFixed(4)}`);
  return result.accuracy;
}
