// Inference latency of one model four ways on the same weights: Pico eager (noGrad, eval), Pico compiled
// (compile: the captured graph replayed on planned buffers), and the exportOnnx file in onnxruntime-node
// with 1 and 2 intra-op threads. Rounds alternate them; medians.
// Run after `pnpm turbo run build --filter=@pico/onnx...`:  flock /tmp/bench.lock node packages/onnx/scripts/latency.mjs [lenet|resnet8]
import { Generator, Tensor, compile, noGrad } from "@pico/core";
import { referenceCnn, resnet8 } from "@pico/nn";
import { exportOnnx } from "@pico/onnx";
import * as ort from "onnxruntime-node";

const which = process.argv[2] ?? "lenet";
const model = which === "resnet8" ? resnet8({ generator: new Generator(1) }) : referenceCnn(new Generator(1));
model.eval();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const batch of [1, 1000]) {
  const x = Tensor.randn([batch, 1, 28, 28], { generator: new Generator(2) });
  const bytes = exportOnnx(model, x);
  const sessions = {
    "ort 1 thread": await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 }),
    "ort 2 threads": await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1 }),
  };
  const feed = { input: new ort.Tensor("float32", x.toTypedArray(), x.shape) };
  const calls = batch === 1 ? 200 : 3;
  const compiled = compile(model, x);
  const times = { "pico eager": [], "pico compiled": [], "ort 1 thread": [], "ort 2 threads": [] };
  const eagerOut = noGrad(() => model.call(x)).toTypedArray();
  const ortOut = (await sessions["ort 1 thread"].run(feed)).output.data;
  const maxDiff = eagerOut.reduce((m, v, i) => Math.max(m, Math.abs(v - ortOut[i])), 0);
  for (let round = 0; round < 7; round++) {
    let t = performance.now();
    for (let i = 0; i < calls; i++) noGrad(() => model.call(x));
    times["pico eager"].push((performance.now() - t) / calls);
    t = performance.now();
    for (let i = 0; i < calls; i++) compiled(x);
    times["pico compiled"].push((performance.now() - t) / calls);
    for (const [name, session] of Object.entries(sessions)) {
      t = performance.now();
      for (let i = 0; i < calls; i++) await session.run(feed);
      times[name].push((performance.now() - t) / calls);
    }
  }
  for (const [name, list] of Object.entries(times)) rows.push(`| ${which} | ${batch} | ${name} | ${median(list).toFixed(3)} ms |`);
  rows.push(`| ${which} | ${batch} | (max abs difference eager vs ort: ${maxDiff.toExponential(1)}; file ${bytes.length} bytes) | |`);
}
console.log(["| model | batch | runner | median per call |", "|---|---|---|---|", ...rows].join("\n"));
