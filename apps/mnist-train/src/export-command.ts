import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { tensor } from "@pico/core";
import { writeFileAtomic } from "@pico/data";
import { exportOnnx } from "@pico/onnx";
import { InputError, UsageError } from "./errors.js";
import { loadModelFile } from "./model-file.js";

export interface ExportOptions {
  checkpoint: string;
  /** Where the .onnx file goes (written atomically). */
  onnx: string;
  /** The batch size the exported model takes, or "dynamic" for any (axis 0 named "batch"). */
  batchSize: number | "dynamic";
  log: (line: string) => void;
}

/**
 * Exports a checkpoint's model to ONNX (opset 13) in evaluation mode: input `input` of shape
 * [batchSize, 1, 28, 28] float32 (batchSize "dynamic": the symbolic dimension "batch"), normalised as
 * `predict` feeds it (mnistDigitFromImage), output `output`, the [batchSize, 10] logits. Returns the bytes written.
 */
export function exportCommand(options: ExportOptions): Uint8Array {
  const out = resolve(options.onnx);
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--onnx ${options.onnx} is a folder; give the path of the .onnx file to write`);
  const folder = dirname(out);
  if (!existsSync(folder)) throw new InputError(`cannot write ${options.onnx}: the folder ${folder} does not exist`);
  const { model, modelName } = loadModelFile(options.checkpoint);
  const dynamic = options.batchSize === "dynamic";
  const batch = dynamic ? 2 : (options.batchSize as number);
  const example = tensor(new Float32Array(batch * 28 * 28), { shape: [batch, 1, 28, 28] });
  const bytes = exportOnnx(model, example, { dynamicBatch: dynamic });
  writeFileAtomic(out, bytes);
  const n = dynamic ? "batch" : String(batch);
  options.log(
    `${modelName} from ${options.checkpoint} -> ${options.onnx}: ONNX opset 13, input "input" [${n}, 1, 28, 28] float32, ` +
      `output "output" [${n}, 10] logits, ${bytes.length} bytes`,
  );
  return bytes;
}
