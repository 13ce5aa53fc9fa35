import {
  Conv2D,
  Conv2DBackpropFilter,
  Slice,
  Transpose,
  backend_util,
  getKernel,
  registerKernel,
} from "@tensorflow/tfjs-core";
import type {
  Conv2DBackpropFilterAttrs,
  KernelBackend,
  KernelConfig,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from "@tensorflow/tfjs-core";

/**
 * tfjs-backend-wasm 4.22 ships no `Conv2DBackpropFilter`, so no convnet can train on it as shipped.
 * The filter gradient is itself a convolution: with x as [N, H, W, Ci] and dy as [N, OH, OW, Co],
 *
 *   dW[kh, kw, ci, co] = sum_{n, a, b} x[n, kh + a*sh - top, kw + b*sw - left, ci] * dy[n, a, b, co],
 *
 * which is a forward Conv2D of x^T = [Ci, H, W, N] (batch Ci, channels N) with the filter
 * dy^T = [OH, OW, N, Co], dilated by the forward stride, giving [Ci, kh, kw, Co]; one more transpose
 * yields [kh, kw, Ci, Co]. Everything runs on the wasm backend's own Conv2D/Transpose/Slice kernels.
 */
export function wasmConv2DBackpropFilter(args: {
  inputs: NamedTensorInfoMap;
  backend: KernelBackend;
  attrs?: NamedAttrMap;
}): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const x = inputs["x"];
  const dy = inputs["dy"];
  if (x === undefined || dy === undefined) {
    throw new Error("Conv2DBackpropFilter (wasm): expected inputs x and dy");
  }
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new Error(
      `Conv2DBackpropFilter (wasm): x and dy must be rank 4, but got x [${x.shape.join(", ")}] and dy [${dy.shape.join(", ")}]`,
    );
  }
  if (attrs.dataFormat !== "NHWC") {
    throw new Error(`Conv2DBackpropFilter (wasm): only dataFormat NHWC is supported, but got ${attrs.dataFormat}`);
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const [n, h, w, inC] = x.shape as [number, number, number, number];
  const [dyN, outH, outW, outC] = dy.shape as [number, number, number, number];
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  if (dyN !== n || outH !== info.outHeight || outW !== info.outWidth || outC !== info.outChannels || inC !== info.inChannels) {
    throw new Error(
      `Conv2DBackpropFilter (wasm): dy [${dy.shape.join(", ")}] does not match x [${x.shape.join(", ")}] ` +
        `with filter [${attrs.filterShape.join(", ")}] (expected dy [${n}, ${info.outHeight}, ${info.outWidth}, ${info.outChannels}])`,
    );
  }
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (top < 0 || left < 0) {
    throw new Error(`Conv2DBackpropFilter (wasm): negative padding (top ${top}, left ${left}) is not supported`);
  }
  // Rows past the last window the forward pass read are padded in (or sliced off below).
  const bottom = Math.max(0, fh - h - top + (outH - 1) * sh);
  const right = Math.max(0, fw - w - left + (outW - 1) * sw);

  const temps: TensorInfo[] = [];
  const run = (kernelName: string, kernelInputs: NamedTensorInfoMap, kernelAttrs: NamedAttrMap): TensorInfo => {
    const config = getKernel(kernelName, "wasm");
    if (config === undefined) throw new Error(`Conv2DBackpropFilter (wasm): the wasm backend has no ${kernelName} kernel`);
    const out = config.kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs });
    if (Array.isArray(out)) throw new Error(`Conv2DBackpropFilter (wasm): ${kernelName} returned several outputs`);
    temps.push(out);
    return out;
  };
  try {
    const xT = run(Transpose, { x }, { perm: [3, 1, 2, 0] });
    const dyT = run(Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    let conv = run(
      Conv2D,
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        dilations: [sh, sw],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: "NHWC",
      },
    );
    if (conv.shape[1] !== fh || conv.shape[2] !== fw) {
      conv = run(Slice, { x: conv }, { begin: [0, 0, 0, 0], size: [inC, fh, fw, outC] });
    }
    const result = run(Transpose, { x: conv }, { perm: [1, 2, 0, 3] });
    temps.pop();
    return result;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

export const wasmConv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: wasmConv2DBackpropFilter as KernelConfig["kernelFunc"],
};

/** Registers the kernel once; a later tfjs that ships its own is left alone. */
export function registerWasmConv2DBackpropFilter(): void {
  if (getKernel(Conv2DBackpropFilter, "wasm") === undefined) registerKernel(wasmConv2DBackpropFilterConfig);
}
