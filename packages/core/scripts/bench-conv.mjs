// The reference network's two convolutions, forward and backward, at batch 64 and 1000: @pico/nn's
// TypeScript im2col + kernels.gemm (what nn's conv2d runs) against the WebAssembly convolution of
// @pico/core (im2col and GEMM in the module's memory). Uses the built dist/ of both packages:
//   pnpm --filter @pico/core --filter @pico/nn build && node packages/core/scripts/bench-conv.mjs [--rounds 3] [--ms 200]
// Systems alternate within each round; medians of the rounds, in ms per call and images/s.
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, ms: { type: "string", default: "200" }, batch: { type: "string", default: "64,1000" } } });
const rounds = Number(values.rounds);
const budgetMs = Number(values.ms);

const core = await import(new URL("../dist/kernels/wasm/conv-wasm.js", import.meta.url).href);
const nn = await import(new URL("../../nn/dist/kernels/conv2d.js", import.meta.url).href);
if (!core.conv2dWasmAvailable()) throw new Error("bench-conv: WebAssembly SIMD is not available here");

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

function time(fn) {
  fn();
  let reps = 0;
  const start = performance.now();
  do {
    fn();
    reps++;
  } while (performance.now() - start < budgetMs);
  return (performance.now() - start) / reps;
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

// [label, inChannels, size, outChannels, kernel, input gradient wanted]: conv1's input is the image, which needs no gradient.
const layers = [
  ["conv1 1x28x28 -> 8x24x24", 1, 28, 8, 5, false],
  ["conv2 8x12x12 -> 16x8x8", 8, 12, 16, 5, true],
];

console.log("layer | batch | pass | nn TS im2col + gemm ms | wasm conv ms | speed-up | wasm images/s");
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
    const passes = {
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
