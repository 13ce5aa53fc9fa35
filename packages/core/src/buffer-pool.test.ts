import { beforeEach, describe, expect, it } from "vitest";
import { MAX_PER_SIZE, MAX_POOLED_BYTES, MIN_POOLED_BYTES, clearPool, pooledByteCount, recycle, trackBirths } from "./buffer-pool.js";
import { allocate, allocateUninitialized } from "./dtype.js";
import type { FloatArray } from "./dtype.js";
import { noGrad, tensor, tracer } from "./index.js";
import { versionOf } from "./version.js";

const BIG = MIN_POOLED_BYTES / 4;

describe("buffer pool", () => {
  beforeEach(() => clearPool());

  it("allocateUninitialized hands a recycled array back as it was, and a fresh one (zeros) when the pool has none", () => {
    const a = allocate("float32", BIG);
    a.fill(7);
    expect(recycle(a)).toBe(true);
    const b = allocateUninitialized("float32", BIG);
    expect(b).toBe(a);
    expect(b[0]).toBe(7);
    expect(pooledByteCount()).toBe(0);
    const c = allocateUninitialized("float64", BIG);
    expect(c).toBeInstanceOf(Float64Array);
    expect(c.every((v) => v === 0)).toBe(true);
  });

  it("allocate hands a recycled array of the same dtype and length back, zero-filled", () => {
    const a = allocate("float32", BIG);
    a.fill(7);
    expect(recycle(a)).toBe(true);
    expect(pooledByteCount()).toBe(a.byteLength);
    expect(allocate("float64", BIG)).not.toBe(a);
    expect(allocate("float32", BIG + 1)).not.toBe(a);
    const b = allocate("float32", BIG);
    expect(b).toBe(a);
    expect(b.every((v) => v === 0)).toBe(true);
    expect(pooledByteCount()).toBe(0);
    expect(allocate("float32", BIG)).not.toBe(a);
  });

  it("keeps float64 and float32 arrays apart", () => {
    const d = allocate("float64", BIG);
    recycle(d);
    expect(allocate("float32", BIG)).not.toBe(d);
    expect(allocate("float64", BIG)).toBe(d);
  });

  it("refuses small arrays, views into part of a buffer, and an array it already holds", () => {
    expect(recycle(new Float32Array(BIG / 2))).toBe(false);
    const whole = new Float32Array(BIG * 2);
    expect(recycle(whole.subarray(BIG))).toBe(false);
    expect(recycle(whole.subarray(0, BIG))).toBe(false);
    expect(recycle(whole)).toBe(true);
    expect(recycle(whole)).toBe(false);
    expect(allocate("float32", BIG * 2)).toBe(whole);
    expect(allocate("float32", BIG * 2)).not.toBe(whole);
  });

  it("holds at most a few arrays per size and never more than its byte budget", () => {
    const same = Array.from({ length: MAX_PER_SIZE + 2 }, () => new Float32Array(BIG));
    const kept = same.map((a) => recycle(a));
    expect(kept.filter(Boolean).length).toBe(MAX_PER_SIZE);
    clearPool();
    expect(recycle(new Float32Array(MAX_POOLED_BYTES / 4 + 1))).toBe(false);
    const huge = new Float32Array(MAX_POOLED_BYTES / 4);
    expect(recycle(huge)).toBe(true);
    expect(pooledByteCount()).toBe(MAX_POOLED_BYTES);
    expect(recycle(new Float32Array(MAX_POOLED_BYTES / 4))).toBe(false);
    expect(pooledByteCount()).toBe(MAX_POOLED_BYTES);
  });

  it("over its budget, the sizes least recently taken or given make room for the new one", () => {
    const third = MAX_POOLED_BYTES / 3 / 4;
    const [a, b, c] = [third, third - 16, third - 32].map((n) => new Float32Array(n));
    expect([a, b, c].map((x) => recycle(x!))).toEqual([true, true, true]);
    // Identity as booleans: a failed toBe on two large typed arrays compares them element by element.
    expect(allocate("float32", a!.length) === a).toBe(true); // a's size is now the most recently used
    expect(recycle(a!)).toBe(true);
    const d = new Float32Array(third - 48);
    expect(recycle(d)).toBe(true); // evicts b, the least recently used
    expect(allocate("float32", b!.length) === b).toBe(false);
    expect(allocate("float32", c!.length) === c).toBe(true);
    expect(allocate("float32", a!.length) === a).toBe(true);
    expect(allocate("float32", d.length) === d).toBe(true);
    expect(pooledByteCount()).toBe(0);
  });

  it("trackBirths records what allocate returns inside it, by buffer; an inner scope records only its own", () => {
    const outer = new Map<ArrayBufferLike, FloatArray>();
    const inner = new Map<ArrayBufferLike, FloatArray>();
    const before = allocate("float32", 3);
    let a: FloatArray | null = null;
    let b: FloatArray | null = null;
    let c: FloatArray | null = null;
    trackBirths(outer, () => {
      a = allocate("float32", 3);
      trackBirths(inner, () => {
        b = allocate("float64", 5);
      });
      c = allocate("float32", 4);
    });
    const after = allocate("float32", 3);
    const recorded = [...outer.values()];
    expect(recorded.length).toBe(2);
    expect(recorded[0]).toBe(a);
    expect(recorded[1]).toBe(c);
    expect([...inner.values()].length).toBe(1);
    expect(inner.get(b!.buffer)).toBe(b);
    expect(outer.get(a!.buffer)).toBe(a);
    expect(outer.has(before.buffer) || outer.has(after.buffer) || inner.has(after.buffer)).toBe(false);
  });

  it("trackBirths restores the outer scope when fn throws", () => {
    const outer = new Map<ArrayBufferLike, FloatArray>();
    trackBirths(outer, () => {
      expect(() =>
        trackBirths(new Map(), () => {
          throw new Error("boom");
        }),
      ).toThrow("boom");
      allocate("float32", 2);
    });
    expect(outer.size).toBe(1);
  });
});

describe("tracer.recycle", () => {
  beforeEach(() => clearPool());

  it("hands a dead intermediate's array to the pool, for the next allocation of its dtype and length", () => {
    const x = tensor(new Float32Array(BIG).fill(1), { shape: [BIG] });
    const hidden = noGrad(() => x.mul(3));
    const buffer = hidden.data.data;
    expect(tracer.recycle(buffer)).toBe(true);
    const next = noGrad(() => x.add(1));
    expect(next.data.data).toBe(buffer);
    expect(next.toTypedArray().every((v) => v === 2)).toBe(true);
    expect(tracer.recycle(x.data.data.subarray(1))).toBe(false);
  });

  it("moves the version of an array it keeps (whoever takes it writes into it: a kernel's offer of its contents is void), not of one it refuses", () => {
    const kept = new Float32Array(BIG);
    const small = new Float32Array(4);
    expect(recycle(kept)).toBe(true);
    expect(recycle(small)).toBe(false);
    expect([versionOf(kept), versionOf(small)]).toEqual([1, 0]);
  });
});
