import { describe, expect, it } from "vitest";
import { enableRelaxedSimdFlag } from "./relaxed-simd-flag.js";

// The relaxed-SIMD build (fused multiply-add) against the references. The flag must be on before the
// module is first compiled, so the kernels are imported only after it is set.
const relaxed = await enableRelaxedSimdFlag();

describe("the relaxed-SIMD build of the kernel module", () => {
  it("is what runs once Node 20's flag is on (Node >= 22: on by default)", async () => {
    expect(relaxed).toBe(true);
    const { kernelInfo } = await import("../registry.js");
    await import("../gemm.js");
    expect(kernelInfo().wasm).toEqual({ simd: true, relaxedSimd: true });
  });

  it("computes GEMMs as the references do (random shapes, transpositions, accumulation)", async () => {
    const { gemmWasm } = await import("./gemm-wasm.js");
    const { checkGemm, packedLayout, TRANS } = await import("./test-utils/gemm-cases.js");
    for (const m of [1, 5, 17, 64]) for (const n of [3, 8, 33]) for (const k of [1, 7, 300]) {
      for (const [transA, transB] of TRANS) {
        checkGemm(gemmWasm, { m, n, k, transA, transB, accumulate: m % 2 === 1, layoutA: packedLayout, layoutB: packedLayout, layoutC: packedLayout });
      }
    }
  });

  it("computes convolutions as the nested-loop reference does (forward and every gradient)", async () => {
    const { conv2dWasmKernel } = await import("../conv/conv2d.js");
    const { conv2dReference, conv2dBackwardReference } = await import("../conv/conv2d-reference.js");
    const { geometryOf } = await import("../conv/test-utils/geometry.js");
    const { expectClose } = await import("../conv/test-utils/compare.js");
    const { Generator } = await import("../../random.js");
    const gen = new Generator(9);
    const random = (n: number): Float32Array => Float32Array.from({ length: n }, () => gen.normal());
    const cases: [number[], number[], { stride?: number; padding?: number; groups?: number }][] = [
      [[2, 3, 9, 8], [5, 3, 3, 3], { padding: 1 }],
      [[2, 8, 12, 12], [16, 8, 5, 5], {}],
      [[1, 4, 9, 9], [6, 2, 3, 3], { stride: 2, padding: 1, groups: 2 }],
      [[3, 6, 10, 10], [8, 6, 1, 1], {}],
    ];
    for (const [xs, ws, options] of cases) {
      const g = geometryOf(xs, ws, options);
      const size = (s: number[]): number => s.reduce((p, q) => p * q);
      const [x, w, b] = [random(size(xs)), random(size(ws)), random(ws[0]!)];
      const args = { x: Float64Array.from(x), xShape: xs as [number, number, number, number], w: Float64Array.from(w), wShape: ws as [number, number, number, number], stride: [g.strideHeight, g.strideWidth] as const, padding: [g.padHeight, g.padWidth] as const, dilation: [1, 1] as const, groups: g.groups };
      const expected = conv2dReference(args, Float64Array.from(b));
      const out = new Float32Array(expected.length);
      const saved = conv2dWasmKernel.forward(g, { data: x, offset: 0 }, { data: w, offset: 0 }, { data: b, offset: 0 }, out, {});
      expect(saved).not.toBeNull();
      expectClose(out, expected, `${xs} ${ws} output`, 1e-4, 1e-4);
      const gy = random(expected.length);
      const ref = conv2dBackwardReference(args, Float64Array.from(gy));
      const grads = { input: new Float32Array(x.length), weight: new Float32Array(w.length), bias: new Float32Array(b.length) };
      conv2dWasmKernel.backward(g, saved!, { data: gy, offset: 0 }, { data: w, offset: 0 }, { data: x, offset: 0 }, grads);
      expectClose(grads.input, ref.gradInput, `${xs} ${ws} input gradient`, 1e-4, 1e-4);
      expectClose(grads.weight, ref.gradWeight, `${xs} ${ws} weight gradient`, 1e-4, 1e-4);
      expectClose(grads.bias, ref.gradBias, `${xs} ${ws} bias gradient`, 1e-4, 1e-4);
    }
  });
});
