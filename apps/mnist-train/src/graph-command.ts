import { existsSync, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { Graphviz } from "@hpcc-js/wasm-graphviz";
import { tensor, trace, type Graph, type Tensor } from "@pico/core";
import { CrossEntropyLoss } from "@pico/nn";
import { writeFileAtomic } from "@pico/data";
import sharp from "sharp";
import { InputError, UsageError } from "./errors.js";
import { loadModelFile } from "./model-file.js";

export interface GraphOptions {
  checkpoint: string;
  /** graph.png, graph.svg or graph.dot: the format follows the extension. */
  out: string;
  /** Draw the training step's backward pass (gradient flow) instead of the forward. */
  backward?: boolean;
  log: (line: string) => void;
}

const FORMATS = [".png", ".svg", ".dot"] as const;

/**
 * Draws the forward graph of a checkpoint's model in evaluation mode (trace on one 1×28×28 image):
 * DOT from graph.toDot(), laid out and drawn as SVG by Graphviz (compiled to WebAssembly,
 * @hpcc-js/wasm-graphviz), PNG rasterised from the SVG by sharp.
 */
export async function graphCommand(options: GraphOptions): Promise<void> {
  const out = resolve(options.out);
  const format = extname(out).toLowerCase();
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--out ${options.out}: the picture's format follows its extension, one of ${FORMATS.join(", ")}; got ${format === "" ? "none" : format}`);
  }
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${options.out} is a folder; give the path of the picture to write`);
  if (!existsSync(dirname(out))) throw new InputError(`cannot write ${options.out}: the folder ${dirname(out)} does not exist`);
  const { model, modelName } = loadModelFile(options.checkpoint);
  const image = tensor(new Float32Array(28 * 28), { shape: [1, 1, 28, 28] });
  let graph: Graph;
  let dot: string;
  if (options.backward === true) {
    // The step as train runs it: training mode, cross-entropy of the logits against a label.
    model.train();
    const loss = new CrossEntropyLoss();
    const label = tensor([0]);
    const step = { call: (x: Tensor) => loss.forward(model.call(x) as Tensor, label), namedParameters: () => model.namedParameters(), namedBuffers: () => model.namedBuffers() };
    graph = trace(step, image);
    dot = graph.toGradientDot({ title: `${modelName} (${options.checkpoint}), backward of a training step (cross-entropy), batch 1` });
  } else {
    model.eval();
    graph = trace(model, image);
    dot = graph.toDot({ title: `${modelName} (${options.checkpoint}), evaluation, batch 1` });
  }
  if (format === ".dot") {
    writeFileAtomic(out, dot);
  } else {
    const svg = (await Graphviz.load()).dot(dot);
    if (format === ".svg") writeFileAtomic(out, svg);
    else writeFileAtomic(out, await sharp(Buffer.from(metricCompatibleFonts(svg)), { density: 110 }).flatten({ background: "#ffffff" }).png().toBuffer());
  }
  const what = options.backward === true ? "backward of" : "";
  options.log(`${modelName} from ${options.checkpoint} -> ${options.out}: ${what}${what === "" ? "" : " "}${graph.nodes.length} operators, ${graph.parameters.length} parameter tensors`);
}

/**
 * Graphviz sizes every box for Helvetica's metrics; sharp's renderer, asked for Helvetica, may draw in
 * a wider font (DejaVu Sans) that overflows the boxes. Liberation Sans and Arimo have Helvetica's
 * metrics: ask for them first.
 */
function metricCompatibleFonts(svg: string): string {
  return svg.replaceAll('font-family="Helvetica,sans-Serif"', 'font-family="Liberation Sans,Arimo,Arial,Helvetica,sans-Serif"');
}
