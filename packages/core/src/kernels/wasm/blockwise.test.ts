import { describe, expect, it } from "vitest";
import { runBlockwise } from "./blockwise.js";
import { localInstance, wasmAvailable } from "./engine.js";

const RELU_FORWARD = 2;
const ADD_RELU_FORWARD = 4;

function relu(x: Float32Array, y: Float32Array): boolean {
  const e = localInstance()!.exports;
  return runBlockwise([x], [y], { floats: 1000, align: 1 }, [], (at, n) => e.elementwiseJob(RELU_FORWARD, at[0]!, at[0]!, 0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0));
}

const ramp = (n: number, shift: number): Float32Array => Float32Array.from({ length: n }, (_, i) => ((i * 37 + shift) % 101) - 50);

describe.runIf(wasmAvailable())("runBlockwise", () => {
  it("copies every block, the last one short, and a whole operand of one block, into the results", () => {
    for (const n of [2500, 1000, 7, 2500]) {
      const x = ramp(n, n);
      const y = new Float32Array(n).fill(NaN);
      expect(relu(x, y)).toBe(true);
      for (let i = 0; i < n; i++) expect(y[i]).toBe(Math.max(x[i]!, 0));
    }
  });

  it("reads the results from the memory's current buffer after the memory grew", () => {
    const x = ramp(2500, 1);
    const before = new Float32Array(2500);
    relu(x, before);
    localInstance()!.memory.grow(1);
    const x2 = ramp(2500, 2);
    const after = new Float32Array(2500);
    expect(relu(x2, after)).toBe(true);
    for (let i = 0; i < 2500; i++) expect(after[i]).toBe(Math.max(x2[i]!, 0));
  });

  it("hands the kernel two regions and writes only the results it is given", () => {
    const e = localInstance()!.exports;
    const [a, b] = [ramp(1500, 3), ramp(1500, 4)];
    const bCopy = b.slice();
    const y = new Float32Array(1500);
    const ok = runBlockwise([a, b], [y, null], { floats: 512, align: 4 }, [1, 2], (at, n, constantsAt) => {
      expect(constantsAt).toBeGreaterThan(0);
      expect(new Float64Array(localInstance()!.memory.buffer, constantsAt, 2)).toEqual(new Float64Array([1, 2]));
      e.elementwiseJob(ADD_RELU_FORWARD, at[0]!, at[1]!, at[0]!, 0, n, 0, 0, 0, 0, 0, 0, 0, 0);
    });
    expect(ok).toBe(true);
    for (let i = 0; i < 1500; i++) expect(y[i]).toBe(Math.max(a[i]! + b[i]!, 0));
    expect(b).toEqual(bCopy);
  });

  it("hands the kernel one address per operand, also after a call with more operands (kernels read its length)", () => {
    const lengths: number[] = [];
    const x = ramp(40, 5);
    runBlockwise([x, x, x], [null, null, null], { floats: 64, align: 4 }, [], (at) => lengths.push(at.length));
    runBlockwise([x], [null], { floats: 64, align: 4 }, [], (at) => lengths.push(at.length));
    runBlockwise([x, null], [null, null], { floats: 64, align: 4 }, [], (at) => lengths.push(at.length));
    expect(lengths).toEqual([3, 1, 2]);
    const y = new Float32Array(40);
    expect(relu(x, y)).toBe(true);
    for (let i = 0; i < 40; i++) expect(y[i]).toBe(Math.max(x[i]!, 0));
  });
});
