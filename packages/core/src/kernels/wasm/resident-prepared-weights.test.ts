import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useNodeWorkers } from "../../node-worker-launcher.js";
import { Generator } from "../../random.js";
import { bumpVersion } from "../../version.js";
import { conv2dForwardWasm, type Conv2dWasmForwardOptions } from "../conv/conv2d-wasm.js";
import type { Conv2dGeometry } from "../conv/geometry.js";
import { PreparedWeights, keepPrepared, keptPrepared } from "../conv/prepared-weights.js";
import { geometryOf } from "../conv/test-utils/geometry.js";
import { installWasmConvThreads, stopWasmConvThreads } from "./conv-wasm-threads.js";
import { addressOf, residentStorageStats } from "./resident-storage.js";
import { runningWasmThreads } from "./shared-wasm-threads.js";

useNodeWorkers();

// Kept, prepared F(4×4, 3×3) weights live in the threads' memory from the call after the one that kept
// them, and the kernel reads them there instead of copying them in (and the weights) every call.

const gen = new Generator(31);
const random = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const bits = (a: Float32Array): number[] => Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));

const g: Conv2dGeometry = geometryOf([4, 16, 8, 8], [32, 16, 3, 3], { padding: 1 });
const OUT = 4 * 32 * 8 * 8;
/** F(4×4, 3×3): a 6×6 tile of every output and input channel's weights. */
const PREPARED = 36 * 32 * 16;
const PATH = 0;

function forward(x: Float32Array, w: Float32Array, bias: Float32Array | null, options: Conv2dWasmForwardOptions = {}): Float32Array {
  const out = new Float32Array(OUT);
  const b = bias === null ? null : { data: bias, offset: 0 };
  expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, b, { data: out, offset: 0 }, options)).toBe(true);
  return out;
}

const keptFloats = (prepared: PreparedWeights, w: Float32Array): Float32Array | null => prepared.lookup({ data: w, offset: 0 }, g, PATH, PREPARED);

describe("kept prepared weights in the threads' memory", () => {
  beforeAll(async () => {
    expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
  });
  afterAll(async () => {
    await stopWasmConvThreads();
  });

  it("move into the memory at the next call, are read there, bit for bit the plain path's, and are prepared again in place once the weights change", () => {
    const x = random(4 * 16 * 64);
    const w = random(32 * 16 * 9);
    const bias = random(32);
    const plain = forward(x, w, bias);
    const prepared = new PreparedWeights();
    const before = residentStorageStats().takenBytes;
    expect(bits(forward(x, w, bias, { prepared }))).toEqual(bits(plain));
    // Kept in ordinary memory by the call that prepared them.
    expect(addressOf(runningWasmThreads()!.memory, keptFloats(prepared, w)!)).toBe(-1);
    expect(bits(forward(x, w, bias, { prepared }))).toEqual(bits(plain));
    const kept = keptFloats(prepared, w)!;
    expect(addressOf(runningWasmThreads()!.memory, kept)).toBeGreaterThanOrEqual(0);
    const taken = residentStorageStats().takenBytes;
    expect(taken - before).toBeGreaterThanOrEqual(PREPARED * 4);
    expect(bits(forward(x, w, bias, { prepared }))).toEqual(bits(plain));
    expect(residentStorageStats().takenBytes).toBe(taken);

    // Read where they are: zeroed there, the output is the bias alone (after no ReLU), and back as they were, the plain path's again.
    const saved = Float32Array.from(kept);
    kept.fill(0);
    const biasOnly = forward(x, w, bias, { prepared });
    for (let c = 0; c < 32; c++) expect(Array.from(new Set(biasOnly.subarray(c * 64, (c + 1) * 64)))).toEqual([bias[c]]);
    kept.set(saved);
    expect(bits(forward(x, w, bias, { prepared }))).toEqual(bits(plain));

    // New weights (a version bump): prepared again, into the same region.
    w.forEach((v, i) => (w[i] = -v));
    bumpVersion(w);
    const negated = forward(x, w, bias);
    expect(bits(negated)).not.toEqual(bits(plain));
    expect(bits(forward(x, w, bias, { prepared }))).toEqual(bits(negated));
    expect(keptFloats(prepared, w)).toBe(kept);
    expect(residentStorageStats().takenBytes).toBe(taken);

    // A non-finite weight is still seen (the kept preparation is not current): the caller computes it directly.
    w[5] = Number.NaN;
    bumpVersion(w);
    const out = new Float32Array(OUT);
    expect(conv2dForwardWasm(g, { data: x, offset: 0 }, { data: w, offset: 0 }, null, { data: out, offset: 0 }, { prepared })).toBe(false);

    // Another geometry's preparation (another size) gives the region back.
    const g2 = geometryOf([4, 16, 8, 8], [16, 16, 3, 3], { padding: 1 });
    const w2 = random(16 * 16 * 9);
    const out2 = new Float32Array(4 * 16 * 64);
    expect(conv2dForwardWasm(g2, { data: x, offset: 0 }, { data: w2, offset: 0 }, null, { data: out2, offset: 0 }, { prepared })).toBe(true);
    expect(residentStorageStats().takenBytes).toBe(before);
  });

  it("stay in ordinary memory while the weights change every call (training: no call could read them in place), and move once a call finds them current", () => {
    const x = random(4 * 16 * 64);
    const w = random(32 * 16 * 9);
    const prepared = new PreparedWeights();
    const before = residentStorageStats().takenBytes;
    for (let step = 0; step < 3; step++) {
      // An optimizer step: new values, a new version.
      w[step] = w[step]! + 0.5;
      bumpVersion(w);
      const plain = forward(x, w, null);
      expect(bits(forward(x, w, null, { prepared }))).toEqual(bits(plain));
      expect(addressOf(runningWasmThreads()!.memory, keptFloats(prepared, w)!)).toBe(-1);
      expect(residentStorageStats().takenBytes).toBe(before);
    }
    // The weights unchanged since the last call: moved, and read there.
    const plain = forward(x, w, null);
    expect(bits(forward(x, w, null, { prepared }))).toEqual(bits(plain));
    expect(addressOf(runningWasmThreads()!.memory, keptFloats(prepared, w)!)).toBeGreaterThanOrEqual(0);
    expect(residentStorageStats().takenBytes - before).toBeGreaterThanOrEqual(PREPARED * 4);
  });

  it("keepPrepared's constant weights too; after the threads stop, the calling thread copies them in from there", async () => {
    const x = random(4 * 16 * 64);
    const w = random(32 * 16 * 9);
    const plain = forward(x, w, null);
    keepPrepared(w);
    for (let i = 0; i < 3; i++) expect(bits(forward(x, w, null))).toEqual(bits(plain));
    const kept = keptFloats(keptPrepared(w)!, w)!;
    expect(addressOf(runningWasmThreads()!.memory, kept)).toBeGreaterThanOrEqual(0);
    await stopWasmConvThreads();
    try {
      expect(bits(forward(x, w, null))).toEqual(bits(plain));
    } finally {
      expect(await installWasmConvThreads({ threads: 2 })).toBe(true);
    }
    // New threads, a new memory: moved into it at the next call.
    expect(bits(forward(x, w, null))).toEqual(bits(plain));
    expect(addressOf(runningWasmThreads()!.memory, keptFloats(keptPrepared(w)!, w)!)).toBeGreaterThanOrEqual(0);
    expect(bits(forward(x, w, null))).toEqual(bits(plain));
  });
});
