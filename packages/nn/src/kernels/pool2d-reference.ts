/**
 * Plain nested-loop 2-D max and average pooling from their definitions, for testing the fast kernels.
 * Window (i, j) of plane (n, c) covers rows i·s − p .. i·s − p + k − 1 and likewise columns.
 */
export interface Pool2dReferenceArgs {
  x: Float64Array;
  xShape: readonly [number, number, number, number];
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
}

export function pool2dOutputShapeReference(a: Pool2dReferenceArgs): [number, number, number, number] {
  const [N, C, H, W] = a.xShape;
  return [N, C, Math.floor((H + 2 * a.padding[0] - a.kernel[0]) / a.stride[0]) + 1, Math.floor((W + 2 * a.padding[1] - a.kernel[1]) / a.stride[1]) + 1];
}

/** Calls visit(outIndex, window) with the flat input indices inside each window (padding left out), in row-major scan order. */
function forEachWindow(a: Pool2dReferenceArgs, visit: (outIndex: number, window: number[]) => void): void {
  const [N, C, OH, OW] = pool2dOutputShapeReference(a);
  const [, , H, W] = a.xShape;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          const window: number[] = [];
          for (let u = 0; u < a.kernel[0]; u++) {
            for (let v = 0; v < a.kernel[1]; v++) {
              const row = i * a.stride[0] - a.padding[0] + u;
              const col = j * a.stride[1] - a.padding[1] + v;
              if (row >= 0 && row < H && col >= 0 && col < W) window.push(((n * C + c) * H + row) * W + col);
            }
          }
          visit(((n * C + c) * OH + i) * OW + j, window);
        }
      }
    }
  }
}

/** Max over each window; the gradient goes to the first maximum in scan order. */
export function maxPool2dReference(a: Pool2dReferenceArgs, gradOut: Float64Array | null): { out: Float64Array; gradInput: Float64Array } {
  const [N, C, OH, OW] = pool2dOutputShapeReference(a);
  const out = new Float64Array(N * C * OH * OW);
  const gradInput = new Float64Array(a.x.length);
  forEachWindow(a, (oi, window) => {
    let best = window[0]!;
    for (const k of window) if (a.x[k]! > a.x[best]!) best = k;
    out[oi] = a.x[best]!;
    if (gradOut !== null) gradInput[best]! += gradOut[oi]!;
  });
  return { out, gradInput };
}

/** Mean over each window, dividing by kH·kW when countIncludePad, else by the number of pixels inside the image. */
export function avgPool2dReference(
  a: Pool2dReferenceArgs,
  countIncludePad: boolean,
  gradOut: Float64Array | null,
): { out: Float64Array; gradInput: Float64Array } {
  const [N, C, OH, OW] = pool2dOutputShapeReference(a);
  const out = new Float64Array(N * C * OH * OW);
  const gradInput = new Float64Array(a.x.length);
  forEachWindow(a, (oi, window) => {
    const divisor = countIncludePad ? a.kernel[0] * a.kernel[1] : window.length;
    let sum = 0;
    for (const k of window) sum += a.x[k]!;
    out[oi] = sum / divisor;
    if (gradOut !== null) for (const k of window) gradInput[k]! += gradOut[oi]! / divisor;
  });
  return { out, gradInput };
}
