/**
 * The table of issue 9 ("predict is at chance level on real pictures"): how often `predict` gets MNIST test
 * digits 5000-5099 and typed / drawn digits right, for a trained model and a built CLI. Not part of `pnpm test`:
 *
 *   PREDICT_CHECKPOINT=/tmp/m/model.safetensors [PREDICT_CLI=apps/mnist-train/dist/cli.js] \
 *     npx vitest run --config apps/mnist-train/test/measure.vitest.config.ts
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { it } from "vitest";
import { MNIST_FORMS, writeDrawnDigits, writeMnistPictures, writePhotographedDigits, writeTypedDigits } from "./digit-pictures.js";
import { countMatches, evalPredictions, predictPictures } from "./predict-pictures.js";
import { CLI } from "./run-cli.js";

it("prints the predict table", async () => {
  const checkpoint = process.env.PREDICT_CHECKPOINT;
  if (checkpoint === undefined) throw new Error("set PREDICT_CHECKPOINT to a model.safetensors or checkpoint file");
  const cli = process.env.PREDICT_CLI === undefined ? CLI : resolve(process.env.PREDICT_CLI);
  const dir = mkdtempSync(join(tmpdir(), "predict-table-"));
  const { indices, forms } = await writeMnistPictures(join(dir, "mnist"), 5000, 100);
  const evaluated = evalPredictions(checkpoint, indices);
  const labels = forms["png-28"].map((p) => p.digit);
  const lines = [`cli ${cli}`, `checkpoint ${checkpoint}`, `pictures in ${dir}`, "", "| set | right (label) | same as eval (MNIST) / misread (others) |", "|---|---|---|"];
  lines.push(`| eval on the IDX tensors | ${labels.filter((d, i) => d === evaluated[i]).length}/100 | 100/100 |`);
  for (const form of MNIST_FORMS) {
    const run = await predictPictures(checkpoint, forms[form], cli);
    lines.push(`| MNIST 5000-5099, ${form} | ${countMatches(run, forms[form])}/100 | ${countMatches(run, forms[form], evaluated)}/100 |`);
  }
  const other = { ...(await writeTypedDigits(join(dir, "typed"))), ...(await writeDrawnDigits(join(dir, "drawn"))), ...(await writePhotographedDigits(join(dir, "photo"))) };
  for (const [name, pictures] of Object.entries(other)) {
    const run = await predictPictures(checkpoint, pictures, cli);
    const wrong = pictures.filter((p) => run.digits.get(p.path) !== p.digit).map((p) => `${p.digit}->${run.digits.get(p.path) ?? "error"}`);
    lines.push(`| ${name} | ${countMatches(run, pictures)}/10 | ${wrong.join(" ")} |`);
  }
  console.log(lines.join("\n"));
});
