import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageOf } from "../../buffer-pool.js";
import { onFastPathWarning, Tensor, tensor } from "../../index.js";
import { disableThreads, enableThreads } from "../../threads.js";
import type { FastPathWarning } from "../fast-path-warnings.js";
import { MAX_RESIDENT_BYTES, MAX_TAKEN_BYTES, MIN_RESIDENT_BYTES, residentStorageStats } from "./resident-storage.js";

// Where resident storage meets user code: an array the public API hands out is an ordinary copy (a view
// of a region outlives the region, and a SharedArrayBuffer is shared, not copied, by structuredClone and
// postMessage), and regions nobody gives back are bounded (a synchronous loop never runs finalization).

const gc = (globalThis as unknown as { gc: () => void }).gc;
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));
const n = MIN_RESIDENT_BYTES; // floats: 4x the smallest resident array
const isResident = (a: Float32Array | Float64Array): boolean => storageOf(a) !== a.buffer;

describe("resident storage at the public API's boundary (2 threads)", () => {
  const warnings: FastPathWarning[] = [];
  beforeAll(async () => {
    expect(await enableThreads(2)).toBe(true);
    onFastPathWarning((w) => warnings.push(w));
  });
  afterAll(async () => {
    onFastPathWarning(null);
    await disableThreads();
  });

  it("toTypedArray() hands out an ordinary copy: a subarray kept after the tensor is collected keeps its values", async () => {
    let t: Tensor | null = tensor(new Float32Array(n).fill(1)).mul(3);
    expect(isResident(t.data.data)).toBe(true);
    const head = t.toTypedArray().subarray(0, 4);
    expect(head.buffer).toBeInstanceOf(ArrayBuffer);
    t = null;
    for (let i = 0; i < 5; i++) {
      gc();
      await tick();
    }
    // Later tensors of the same size take the regions the collected one gave back.
    const others = [100, 101, 102, 103].map((k) => tensor(new Float32Array(n).fill(1)).mul(k));
    expect(others.every((o) => isResident(o.data.data))).toBe(true);
    expect(Array.from(head)).toEqual([3, 3, 3, 3]);
    expect(Array.from(others[3]!.toTypedArray().subarray(0, 2))).toEqual([103, 103]);
  });

  it("toTypedArray() is a deep copy for structuredClone, with its own buffer; the tensor's array stays resident", () => {
    const t = tensor(new Float32Array(n).fill(1)).mul(3);
    const a = t.toTypedArray() as Float32Array;
    expect([a.byteOffset, a.buffer.byteLength, a.buffer instanceof SharedArrayBuffer]).toEqual([0, n * 4, false]);
    const clone = structuredClone(a);
    a[0] = 42;
    expect([clone[0], t.data.data[0]]).toEqual([3, 3]);
    // The tensor's own array is still a view of the shared memory, read and written in place by the kernels.
    expect(isResident(t.data.data)).toBe(true);
    expect(Array.from(t.toTypedArray().subarray(0, 2))).toEqual([3, 3]);
  });

  it("toTypedArray() and toArray() of a view pack a copy whose region goes back at once", () => {
    const rows = 256;
    const cols = n / rows;
    const t = tensor(Float32Array.from({ length: n }, (_, i) => i), { shape: [rows, cols] }).mul(1);
    const transposed = t.permute([1, 0]);
    const before = residentStorageStats().takenBytes;
    const packedCopy = transposed.toTypedArray();
    expect(residentStorageStats().takenBytes).toBe(before);
    expect(isResident(packedCopy)).toBe(false);
    expect([packedCopy[0], packedCopy[1], packedCopy[rows]]).toEqual([0, cols, 1]);
    const nested = transposed.toArray() as number[][];
    expect([nested[0]![1], nested[1]![0], nested[1]![1]]).toEqual([cols, 1, cols + 1]);
    expect(residentStorageStats().takenBytes).toBe(before);
  });

  it("a synchronous loop over a custom forward stops taking regions once a backward pass ends with MAX_TAKEN_BYTES taken, warns once, and is resident again once they come back", async () => {
    const size = 64 * 16 * 16 * 16; // a 1 MiB activation
    const w = tensor(new Float32Array(size).fill(0.5), { requiresGrad: true });
    const x = tensor(new Float32Array(size).fill(1));
    // What one step of this forward takes at most: its 4 activations and backward's arrays.
    const oneStep = 16 * size * 4;
    let sum = 0;
    let peak = 0;
    for (let step = 0; step < 80; step++) {
      // Intermediates nobody recycles: each step's come back only once collected and finalized.
      const loss = x.mul(w).relu().mul(w).relu().sum();
      loss.backward();
      sum = loss.item();
      w.grad = null;
      peak = Math.max(peak, residentStorageStats().takenBytes);
    }
    expect(sum).toBe(size * 0.25);
    // The backward pass that first ends past the budget stops new regions: at most one step's past it.
    expect(peak).toBeLessThanOrEqual(MAX_TAKEN_BYTES + oneStep);
    const spent = residentStorageStats();
    expect(spent.takenBytes).toBeGreaterThan(MAX_TAKEN_BYTES);
    expect(spent.spanBytes).toBeLessThanOrEqual(MAX_TAKEN_BYTES + 2 * oneStep);
    expect(isResident(x.mul(2).data.data)).toBe(false);
    expect(warnings.map((w) => [w.fastPath, w.reason])).toEqual([
      ["resident-storage", "the tensors in the threads' shared memory still held more than 160 MiB at the end of a backward pass"],
    ]);
    expect(warnings[0]!.message).toContain("pile up from step to step");
    expect(warnings[0]!.message).toContain("Sequential and modules that declare keepsNoReferences");
    for (let i = 0; i < 5; i++) {
      gc();
      await tick();
    }
    expect(residentStorageStats().takenBytes).toBeLessThan(16 * size * 4);
    expect(isResident(x.mul(2).data.data)).toBe(true);
    expect(warnings).toHaveLength(1);
  });

  it("a step that needs more than MAX_TAKEN_BYTES at once stays resident when its backward gives them back; only the span limit stops it, with a warning naming one step's need", async () => {
    warnings.length = 0;
    // Regions the loop above left are collected first, so that this step starts from few.
    for (let i = 0; i < 5; i++) {
      gc();
      await tick();
    }
    const size = 64 * 16 * 16 * 16; // 1 MiB
    const w = tensor(new Float32Array(size).fill(0.5), { requiresGrad: true });
    const x = tensor(new Float32Array(size).fill(1));
    const start = residentStorageStats().takenBytes;
    // 200 MiB of activations live at once within one step, all resident.
    let h = x;
    const live: Tensor[] = [];
    for (let i = 0; i < 200; i++) {
      h = h.add(w);
      live.push(h);
    }
    expect(residentStorageStats().takenBytes - start).toBeGreaterThanOrEqual(200 * size * 4);
    expect(live.every((t) => isResident(t.data.data))).toBe(true);
    expect(warnings).toEqual([]);
    const loss = h.sum();
    loss.backward();
    expect(h.data.data[size - 1]).toBe(101);
    expect(Array.from(w.grad!.toTypedArray().subarray(0, 2))).toEqual([200, 200]);
    w.grad = null;
    live.length = 0;
    h = x;
    for (let i = 0; i < 5; i++) {
      gc();
      await tick();
    }
    // They came back once collected: a new large tensor is resident again.
    expect(residentStorageStats().takenBytes).toBeLessThan(MAX_TAKEN_BYTES);
    expect(isResident(x.mul(2).data.data)).toBe(true);
    expect(warnings).toEqual([]);
    // Past the span limit (512 MiB) within one step: ordinary arrays, and the warning names one step's need.
    const held: Tensor[] = [];
    for (let i = 0; i < 600; i++) {
      held.push(x.mul(2));
      if (!isResident(held[i]!.data.data)) break;
    }
    expect(held.length).toBeGreaterThan(400);
    expect(isResident(held[held.length - 1]!.data.data)).toBe(false);
    expect(residentStorageStats().spanBytes).toBeLessThanOrEqual(MAX_RESIDENT_BYTES);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fastPath).toBe("resident-storage");
    expect(warnings[0]!.reason).toBe("the tensors live at once would span more than the 512 MiB the threads' shared memory keeps for them within one step");
    expect(warnings[0]!.message).toContain("A large batch or model needs that much within one step");
    held.length = 0;
  });
});
