/**
 * Plain nested-loop 2-D convolution straight from its definition, for testing the fast kernels:
 * out[n, o, i, j] = b[o] + Σ_{c, u, v} x[n, g·C/G + c, i·s − p + u·d, j·s − p + v·d] · w[o, c, u, v]
 * (terms that land in the padding are zero) and the three gradients of Σ out · gradOut.
 */
export interface Conv2dReferenceArgs {
  x: Float64Array;
  xShape: readonly [number, number, number, number];
  w: Float64Array;
  wShape: readonly [number, number, number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
  groups: number;
}

export interface Conv2dReferenceGrads {
  gradInput: Float64Array;
  gradWeight: Float64Array;
  gradBias: Float64Array;
}

function dims(a: Conv2dReferenceArgs) {
  const [N, C, H, W] = a.xShape;
  const [O, Cg, KH, KW] = a.wShape;
  const OH = Math.floor((H + 2 * a.padding[0] - a.dilation[0] * (KH - 1) - 1) / a.stride[0]) + 1;
  const OW = Math.floor((W + 2 * a.padding[1] - a.dilation[1] * (KW - 1) - 1) / a.stride[1]) + 1;
  return { N, C, H, W, O, Cg, KH, KW, OH, OW, Og: O / a.groups };
}

export function conv2dOutputShapeReference(a: Conv2dReferenceArgs): [number, number, number, number] {
  const d = dims(a);
  return [d.N, d.O, d.OH, d.OW];
}

/** Calls visit(outIndex, inIndex, weightIndex, o) for every (output, tap) pair whose input pixel is inside the image. */
function forEachTerm(a: Conv2dReferenceArgs, visit: (outIndex: number, inIndex: number, weightIndex: number, o: number) => void): void {
  const { N, C, H, W, O, Cg, KH, KW, OH, OW, Og } = dims(a);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const group = Math.floor(o / Og);
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          const outIndex = ((n * O + o) * OH + i) * OW + j;
          for (let c = 0; c < Cg; c++) {
            for (let u = 0; u < KH; u++) {
              for (let v = 0; v < KW; v++) {
                const row = i * a.stride[0] - a.padding[0] + u * a.dilation[0];
                const col = j * a.stride[1] - a.padding[1] + v * a.dilation[1];
                if (row < 0 || row >= H || col < 0 || col >= W) continue;
                const inIndex = ((n * C + group * Cg + c) * H + row) * W + col;
                const weightIndex = ((o * Cg + c) * KH + u) * KW + v;
                visit(outIndex, inIndex, weightIndex, o);
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dReference(a: Conv2dReferenceArgs, bias: Float64Array | null): Float64Array {
  const [N, O, OH, OW] = conv2dOutputShapeReference(a);
  const out = new Float64Array(N * O * OH * OW);
  if (bias !== null) for (let k = 0; k < out.length; k++) out[k] = bias[Math.floor(k / (OH * OW)) % O]!;
  forEachTerm(a, (oi, ii, wi) => {
    out[oi]! += a.x[ii]! * a.w[wi]!;
  });
  return out;
}

export function conv2dBackwardReference(a: Conv2dReferenceArgs, gradOut: Float64Array): Conv2dReferenceGrads {
  const { O, OH, OW } = dims(a);
  const gradInput = new Float64Array(a.x.length);
  const gradWeight = new Float64Array(a.w.length);
  const gradBias = new Float64Array(O);
  forEachTerm(a, (oi, ii, wi) => {
    gradInput[ii]! += gradOut[oi]! * a.w[wi]!;
    gradWeight[wi]! += gradOut[oi]! * a.x[ii]!;
  });
  for (let k = 0; k < gradOut.length; k++) gradBias[Math.floor(k / (OH * OW)) % O]! += gradOut[k]!;
  return { gradInput, gradWeight, gradBias };
}
