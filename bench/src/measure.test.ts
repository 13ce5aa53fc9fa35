import { afterEach, describe, expect, it, vi } from "vitest";
import type { BenchSystem } from "./measure.js";
import { measure } from "./measure.js";
import type { Workload } from "./workload.js";

const workload: Workload = {
  network: "reference",
  imageShape: [1, 2, 2],
  weights: [],
  batchSize: 4,
  numBatches: 5,
  trainImages: new Float32Array(5 * 4 * 4),
  trainLabels: new Int32Array(5 * 4),
  inferBatch: 2,
  inferImages: new Float32Array(2 * 4),
};

/** A system whose steps take `stepMs(step)` on a fake clock; its loss is the number of steps taken. */
function fakeSystem(stepMs: (step: number) => number): { system: BenchSystem; steps: () => number } {
  let clock = 0;
  let steps = 0;
  vi.spyOn(performance, "now").mockImplementation(() => clock);
  const system: BenchSystem = {
    loss: () => steps,
    trainStep: () => {
      clock += stepMs(steps);
      return steps++;
    },
    predict: (_images, count) => new Float32Array(count * 10),
  };
  return { system, steps: () => steps };
}

afterEach(() => vi.restoreAllMocks());

describe("measure's warm-up", () => {
  it("goes on past the minimum in windows of the timed length until the step time stops falling, and times the next window", () => {
    // 5 ms a step, falling by 1 ms every 100 steps to 1 ms at step 400.
    const { system, steps } = fakeSystem((step) => Math.max(1, 5 - Math.floor(step / 100)));
    const m = measure(system, workload, { warmupSteps: 100, maxWarmupSteps: 2000, trainSteps: 100, inferCount: 2, inferReps: 1 });
    // Windows 100-200 (4 ms), 200-300 (3), 300-400 (2), 400-500 (1), 500-600 (1), 600-700 (1): steady.
    expect(m.warmupSteps).toBe(700);
    // Images per second of each window: 100 steps of 4 images.
    [1000, 4000 / 3, 2000, 4000, 4000, 4000].forEach((ips, i) => expect(m.warmupWindows[i]).toBeCloseTo(ips, 6));
    expect(m.warmupWindows).toHaveLength(6);
    expect(m.lossAfterWarmup).toBe(100);
    expect(m.trainSeconds).toBeCloseTo(0.1, 10);
    expect(m.trainImagesPerSec).toBeCloseTo(4000, 6);
    expect(m.stepLosses).toHaveLength(800);
    expect(steps()).toBe(800);
  });

  it("stops at the cap, and takes exactly the minimum without one", () => {
    const slowing = fakeSystem((step) => 10 - step / 100);
    const capped = measure(slowing.system, workload, { warmupSteps: 100, maxWarmupSteps: 350, trainSteps: 100, inferCount: 2, inferReps: 1 });
    expect(capped.warmupSteps).toBe(300);
    vi.restoreAllMocks();
    const fixed = fakeSystem(() => 1);
    const m = measure(fixed.system, workload, { warmupSteps: 30, trainSteps: 10, inferCount: 2, inferReps: 1 });
    expect([m.warmupSteps, m.warmupWindows.length, m.lossAfterWarmup, m.stepLosses.length]).toEqual([30, 0, 30, 40]);
  });

  it("stops once the windows have taken maxWarmupSeconds, a slow system after its first window", () => {
    // Still falling every window (10 ms a step minus 1 ms per 100 steps): only the seconds end it.
    const slowing = fakeSystem((step) => 10 - step / 100);
    const m = measure(slowing.system, workload, { warmupSteps: 100, maxWarmupSteps: 2000, maxWarmupSeconds: 2.5, trainSteps: 100, inferCount: 2, inferReps: 1 });
    // Windows of 0.85, 0.75, 0.65 s: 2.25 s < 2.5 s after three, so a fourth (0.55 s), then stop.
    expect(m.warmupSteps).toBe(500);
    vi.restoreAllMocks();
    const slow = fakeSystem(() => 4000);
    const one = measure(slow.system, workload, { warmupSteps: 3, maxWarmupSteps: 51, maxWarmupSeconds: 20, trainSteps: 8, inferCount: 2, inferReps: 1 });
    expect([one.warmupSteps, one.warmupWindows.length]).toEqual([11, 1]);
  });

  it("goes on past steady windows until the settle steps, within the caps", () => {
    // Steady from the start (1 ms a step): only the settle steps keep it going.
    const flat = fakeSystem(() => 1);
    const settled = measure(flat.system, workload, { warmupSteps: 100, maxWarmupSteps: 4000, settleSteps: 3000, trainSteps: 100, inferCount: 2, inferReps: 1 });
    expect([settled.warmupSteps, settled.warmupWindows.length, settled.lossAfterWarmup]).toEqual([3000, 29, 100]);
    vi.restoreAllMocks();
    // Still falling at the settle steps: the windows' rule goes on past them (as 'goes on past the minimum').
    const falling = fakeSystem((step) => Math.max(1, 50 - Math.floor(step / 100)));
    expect(measure(falling.system, workload, { warmupSteps: 100, maxWarmupSteps: 9000, settleSteps: 3000, trainSteps: 100, inferCount: 2, inferReps: 1 }).warmupSteps).toBe(5200);
    vi.restoreAllMocks();
    // The step cap and the seconds cap end it before the settle steps.
    const capped = fakeSystem(() => 1);
    expect(measure(capped.system, workload, { warmupSteps: 100, maxWarmupSteps: 2000, settleSteps: 3000, trainSteps: 100, inferCount: 2, inferReps: 1 }).warmupSteps).toBe(2000);
    vi.restoreAllMocks();
    const timed = fakeSystem(() => 10);
    expect(measure(timed.system, workload, { warmupSteps: 100, maxWarmupSteps: 4000, maxWarmupSeconds: 5, settleSteps: 3000, trainSteps: 100, inferCount: 2, inferReps: 1 }).warmupSteps).toBe(600);
  });

  it("goes round the workload's batches again past its last one", () => {
    // 5 batches; batch b's first label is b.
    const labels = Int32Array.from({ length: 5 * 4 }, (_, i) => Math.floor(i / 4));
    const cycling: Workload = { ...workload, trainLabels: labels };
    const seen: number[] = [];
    const system: BenchSystem = {
      loss: () => 0,
      trainStep: (batch) => {
        seen.push(batch.labels[0]!);
        return 0;
      },
      predict: (_images, count) => new Float32Array(count * 10),
    };
    measure(system, cycling, { warmupSteps: 8, trainSteps: 4, inferCount: 2, inferReps: 1 });
    expect(seen).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
  });

  it("refuses a cap below the minimum", () => {
    const { system } = fakeSystem(() => 1);
    expect(() => measure(system, workload, { warmupSteps: 30, maxWarmupSteps: 20, trainSteps: 10, inferCount: 2, inferReps: 1 })).toThrow(
      "measure: maxWarmupSteps must be at least warmupSteps (30), but got 20",
    );
  });
});

describe("measure's timed parts", () => {
  /** Steps of `stepMs` and inference calls of `callMs` on a fake clock; call c's logits are all c. */
  function clocked(stepMs: number, callMs: number): BenchSystem {
    let clock = 0;
    let calls = 0;
    vi.spyOn(performance, "now").mockImplementation(() => clock);
    return {
      loss: () => 0,
      trainStep: () => {
        clock += stepMs;
        return 0;
      },
      predict: (_images, count) => {
        clock += callMs;
        return new Float32Array(count * 10).fill(++calls);
      },
    };
  }

  it("go on in whole steps and calls until each has taken minTimedSeconds", () => {
    const system = clocked(40, 70);
    const m = measure(system, workload, { warmupSteps: 3, trainSteps: 8, inferCount: 2, inferReps: 5, minTimedSeconds: 3 });
    // 75 steps of 40 ms reach 3 s; 43 calls of 70 ms pass it (42 make 2.94 s).
    expect([m.trainSteps, m.trainImages, m.trainSeconds]).toEqual([75, 300, 3]);
    expect(m.trainImagesPerSec).toBeCloseTo(100, 10);
    expect(m.stepLosses).toHaveLength(3 + 75);
    expect(m.inferReps).toBe(43);
    expect(m.inferSeconds).toBeCloseTo(3.01, 10);
    expect(m.inferImagesPerSec).toBeCloseTo((2 * 43) / 3.01, 10);
    // The checksum is the last timed call's (call 1 is the untimed one before them).
    expect(m.inferChecksum).toBe(2 * 10 * 44);
  });

  it("take at least trainSteps steps and inferReps calls, however long they last, and exactly them without minTimedSeconds", () => {
    const slow = measure(clocked(4000, 900), workload, { warmupSteps: 3, trainSteps: 8, inferCount: 2, inferReps: 5, minTimedSeconds: 3 });
    expect([slow.trainSteps, slow.trainSeconds, slow.inferReps, slow.inferSeconds]).toEqual([8, 32, 5, 4.5]);
    vi.restoreAllMocks();
    const fixed = measure(clocked(1, 1), workload, { warmupSteps: 3, trainSteps: 8, inferCount: 2, inferReps: 5 });
    expect([fixed.trainSteps, fixed.trainImages, fixed.inferReps]).toEqual([8, 32, 5]);
  });

  it("refuses a minTimedSeconds that is negative or not finite", () => {
    for (const bad of [-1, Infinity, NaN]) {
      expect(() => measure(clocked(1, 1), workload, { warmupSteps: 3, trainSteps: 8, inferCount: 2, inferReps: 5, minTimedSeconds: bad })).toThrow(
        `measure: minTimedSeconds must be a non-negative number of seconds, but got ${bad}`,
      );
      vi.restoreAllMocks();
    }
  });
});
