// The reference network's two convolutions, forward and backward, at batch 64 and 1000: @pico/nn's
// kernels (im2col + kernels.gemm per image, plain and fused with ReLU + 2×2 max-pool: what nn's conv2d
// and conv2dReluMaxPool2d run; the fused pass without arg-max is what eval under noGrad runs) against
// the WebAssembly convolution of @pico/core (a direct kernel or im2col + GEMM, in the module's memory).
// Uses the built dist/ of both packages:
//   pnpm --filter @pico/core --filter @pico/nn build && node packages/core/scripts/bench-conv.mjs [--rounds 3] [--ms 200] [--clock wall|cpu]
// Systems alternate within each round; medians of the rounds, in ms per call and images/s. `--clock cpu`
// times this process's CPU instead of wall time: steadier on a shared machine, wrong for threads.
// `--threads N` runs the WebAssembly convolution on N threads (installWasmConvThreads); nn's kernels stay on one.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, ms: { type: "string", default: "200" }, batch: { type: "string", default: "64,1000" }, threads: { type: "string", default: "1" }, clock: { type: "string", default: "wall" } },
});
const rounds = Number(values.rounds);
const budgetMs = Number(values.ms);

const core = await import(new URL("../dist/kernels/wasm/conv-wasm.js", import.meta.url).href);
const nn = await import(new URL("../../nn/dist/kernels/conv2d.js", import.meta.url).href);
const fused = await import(new URL("../../nn/dist/kernels/conv2d-relu-max-pool2d.js", import.meta.url).href);
if (!core.conv2dWasmAvailable()) throw new Error("bench-conv: WebAssembly SIMD is not available here");
const threads = Number(values.threads);
if (threads > 1) {
  const { installWasmConvThreads } = await import(new URL("../dist/kernels/wasm/conv-wasm-threads.js", import.meta.url).href);
  if (!(await installWasmConvThreads({ threads }))) throw new Error("bench-conv: could not start the WebAssembly convolution's threads");
}

function geometry(batch, inChannels, size, outChannels, k) {
  const out = size - k + 1;
  return {
    batch, inChannels, inHeight: size, inWidth: size, outChannels, groups: 1, kernelHeight: k, kernelWidth: k,
    strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0, dilationHeight: 1, dilationWidth: 1, outHeight: out, outWidth: out,
  };
}

function random(length) {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.random() - 0.5;
  return out;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const clock = values.clock === "cpu" ? cpuMs : () => performance.now();

function time(fn) {
  fn();
  let reps = 0;
  const wallStart = performance.now();
  const start = clock();
  do {
    fn();
    reps++;
  } while (performance.now() - wallStart < budgetMs);
  return (clock() - start) / reps;
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

// [label, inChannels, size, outChannels, kernel, input gradient wanted]: conv1's input is the image, which needs no gradient.
const layers = [
  ["conv1 1x28x28 -> 8x24x24", 1, 28, 8, 5, false],
  ["conv2 8x12x12 -> 16x8x8", 8, 12, 16, 5, true],
];

console.log("layer | batch | pass | nn kernels ms | wasm conv ms | speed-up | wasm images/s");
for (const batch of values.batch.split(",").map(Number)) {
  for (const [label, c, size, o, k, wantGx] of layers) {
    const g = geometry(batch, c, size, o, k);
    const taps = c * k * k;
    const x = { data: random(batch * c * size * size), offset: 0 };
    const w = { data: random(o * taps), offset: 0 };
    const b = { data: random(o), offset: 0 };
    const outSize = batch * o * g.outHeight * g.outWidth;
    const out = new Float32Array(outSize);
    const gy = { data: random(outSize), offset: 0 };
    const chunk = nn.imagesPerChunk(g);
    const kept = new Float32Array(nn.keptColumnsSize(g));
    const gx = wantGx ? new Float32Array(x.data.length) : null;
    const gw = new Float32Array(o * taps);
    const gb = new Float32Array(o);
    const pooled = { batch, channels: o, inHeight: g.outHeight, inWidth: g.outWidth, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0, outHeight: g.outHeight >> 1, outWidth: g.outWidth >> 1 };
    const pooledSize = batch * o * pooled.outHeight * pooled.outWidth;
    const pooledOut = new Float32Array(pooledSize);
    const argmax = new Int32Array(pooledSize);
    const wasmArgmax = new Int32Array(pooledSize);
    const keptFused = new Float32Array(fused.imageColumnsSize(g) * batch);
    const gyPooled = { data: random(pooledSize), offset: 0 };
    fused.conv2dReluMaxPool2dForward(x, w, b, g, pooled, pooledOut, argmax, keptFused);
    core.conv2dForwardWasm(g, x, w, b, { data: pooledOut, offset: 0 }, { reluMaxPool2x2: true, argmax: wasmArgmax });
    const passes = {
      "conv+relu+pool forward (training)": {
        ts: () => fused.conv2dReluMaxPool2dForward(x, w, b, g, pooled, pooledOut, argmax, keptFused),
        wasm: () => core.conv2dForwardWasm(g, x, w, b, { data: pooledOut, offset: 0 }, { reluMaxPool2x2: true, argmax: wasmArgmax }),
      },
      "conv+relu+pool forward (inference)": {
        ts: () => fused.conv2dReluMaxPool2dForward(x, w, b, g, pooled, pooledOut, null, null),
        wasm: () => core.conv2dForwardWasm(g, x, w, b, { data: pooledOut, offset: 0 }, { reluMaxPool2x2: true }),
      },
      "conv+relu+pool backward": {
        ts: () => {
          gx?.fill(0);
          gb.fill(0);
          // Before nn dropped the kept columns, backward took them as its 7th argument.
          if (fused.conv2dReluMaxPool2dBackward.length === 10) fused.conv2dReluMaxPool2dBackward(gyPooled, argmax, w, x, g, pooled, keptFused, gx, gw, gb);
          else fused.conv2dReluMaxPool2dBackward(gyPooled, argmax, w, x, g, pooled, gx, gw, gb);
        },
        wasm: () => core.conv2dBackwardWasm(g, gyPooled, x, w, { input: gx === null ? null : { data: gx, offset: 0 }, weight: { data: gw, offset: 0 }, bias: { data: gb, offset: 0 } }, { argmax: wasmArgmax }),
      },
      "forward (inference)": {
        ts: () => nn.conv2dForward(x, w, b, g, chunk, out, null),
        wasm: () => core.conv2dForwardWasm(g, x, w, b, { data: out, offset: 0 }),
      },
      "forward (training)": {
        ts: () => nn.conv2dForward(x, w, b, g, chunk, out, kept),
        wasm: () => core.conv2dForwardWasm(g, x, w, b, { data: out, offset: 0 }),
      },
      backward: {
        ts: () => {
          gx?.fill(0);
          gb.fill(0);
          nn.conv2dBackward(gy, w, null, g, chunk, kept, gx, gw);
          nn.conv2dBackwardBias(gy, g, gb);
        },
        wasm: () => core.conv2dBackwardWasm(g, gy, x, w, { input: gx === null ? null : { data: gx, offset: 0 }, weight: { data: gw, offset: 0 }, bias: { data: gb, offset: 0 } }),
      },
    };
    for (const [pass, fns] of Object.entries(passes)) {
      const times = { ts: [], wasm: [] };
      for (let r = 0; r < rounds; r++) for (const name of ["ts", "wasm"]) times[name].push(time(fns[name]));
      const ts = median(times.ts);
      const wasm = median(times.wasm);
      console.log([label, batch, pass, ts.toFixed(3), wasm.toFixed(3), `${(ts / wasm).toFixed(2)}x`, Math.round((batch * 1000) / wasm)].join(" | "));
    }
  }
}
if (threads > 1) (await import(new URL("../dist/kernels/wasm/conv-wasm-threads.js", import.meta.url).href)).stopWasmConvThreads();
