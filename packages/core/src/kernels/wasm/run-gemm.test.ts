import { describe, expect, it } from "vitest";
import type { MatrixView } from "../gemm.js";
import { runGemm } from "./run-gemm.js";
import type { WasmInstance } from "./engine.js";
import type { GemmExports } from "./wasm-api.js";
import type { RowsJob, RowsJobs } from "./run-gemm.js";

function fakeTarget(bytes: number): WasmInstance<GemmExports> {
  let buffer = new ArrayBuffer(bytes);
  return {
    exports: { heapBase: () => 8, workBytes: () => 256, gemmRows: () => undefined },
    memory: {
      get buffer() {
        return buffer;
      },
      grow(pages: number): number {
        if (buffer.byteLength + pages * 65536 > 4 * 65536) throw new RangeError("WebAssembly.Memory.grow(): Maximum memory size exceeded");
        const old = buffer.byteLength / 65536;
        buffer = new ArrayBuffer(buffer.byteLength + pages * 65536);
        return old;
      },
    },
    heap: null,
  };
}

/** The jobs runGemm hands over, copied: its table is reused by the next call. */
const copyOf = (jobs: RowsJobs): RowsJob[] => jobs.jobs.slice(0, jobs.count).map((j) => [...j]);

const view = (rows: number, cols: number, trans: boolean): MatrixView => ({ data: new Float32Array(rows * cols), offset: 0, ld: cols, trans });

describe("runGemm", () => {
  it("returns false without running anything when the memory cannot grow to hold the operands", () => {
    const jobs: RowsJob[][] = [];
    const c = { data: new Float32Array(300 * 300).fill(7), offset: 0, ld: 300 };
    const done = runGemm(fakeTarget(65536), 300, 300, 300, view(300, 300, false), view(300, 300, false), c, false, 1, 1, (j) => jobs.push(copyOf(j)));
    expect(done).toBe(false);
    expect(jobs).toEqual([]);
    expect(c.data.every((v) => v === 7)).toBe(true);
  });

  it("grows the memory, splits C by rows in multiples of 4 and gives each thread its own work area", () => {
    const target = fakeTarget(65536);
    const calls: Array<[RowsJob[], number[]]> = [];
    const c = { data: new Float32Array(100 * 20), offset: 0, ld: 20 };
    expect(runGemm(target, 100, 20, 200, view(200, 100, true), view(200, 20, false), c, true, 2, 3, (j) => calls.push([copyOf(j), j.works.slice(0, 2)]))).toBe(true);
    const [[jobs, works]] = calls as [[RowsJob[], number[]]];
    expect(jobs.map((j) => [j[0], j[1], j[2], j[3]])).toEqual([[0, 36, 20, 200], [36, 72, 20, 200], [72, 100, 20, 200]]);
    expect(works.length).toBe(2);
    expect(works[1]! - works[0]!).toBeGreaterThanOrEqual(256);
    expect(target.memory.buffer.byteLength).toBeGreaterThanOrEqual(works[1]! + 256);
    expect(target.memory.buffer.byteLength).toBeGreaterThan(65536);
  });

  it("splits a short wide C by columns in multiples of 8, offsetting B and C", () => {
    const jobs: RowsJob[][] = [];
    const c = { data: new Float32Array(3 * 80), offset: 0, ld: 80 };
    runGemm(fakeTarget(65536), 3, 80, 5, view(3, 5, false), view(80, 5, true), c, false, 2, 2, (j) => jobs.push(copyOf(j)));
    const [first, second] = jobs[0]!;
    expect([first![2], second![2]]).toEqual([40, 40]);
    expect(second![7]! - first![7]!).toBe(40 * 5 * 4);
    expect(second![10]! - first![10]!).toBe(40 * 4);
  });

  it("splits a small C with a long depth by depth and sums the partial products into C", () => {
    const target = fakeTarget(65536);
    const m = 3;
    const n = 5;
    const c = { data: new Float32Array(m * n).fill(10), offset: 0, ld: n };
    let seen: RowsJob[] = [];
    const done = runGemm(target, m, n, 1000, view(1000, m, true), view(1000, n, false), c, true, 2, 3, (table) => {
      const jobs = copyOf(table);
      seen = jobs;
      const heap = new Float32Array(target.memory.buffer);
      // Stand-in for gemmRows: block t adds t + 1 to every element of its output (the first onto C).
      jobs.forEach((job, t) => {
        for (let i = 0; i < m * n; i++) heap[(job[10]! >> 2) + i] = (job[12] === 1 ? heap[(job[10]! >> 2) + i]! : 0) + t + 1;
      });
    });
    expect(done).toBe(true);
    expect(seen.map((j) => [j[3], j[12]])).toEqual([[334, 1], [334, 0], [332, 0]]);
    expect(seen[1]![4]! - seen[0]![4]!).toBe(334 * m * 4);
    expect(seen[1]![7]! - seen[0]![7]!).toBe(334 * n * 4);
    expect([...c.data]).toEqual(new Array(m * n).fill(10 + 1 + 2 + 3));
  });
});
