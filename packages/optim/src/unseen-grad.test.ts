import { Generator, Tensor, kernels } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
import { Adam } from "./adam.js";

// A .grad that only backward and the optimizer have seen goes back to the buffer pool when zeroGrad drops
// it (on 2 threads it stays in the threads' shared memory, where Adam reads it in place) and its memory
// becomes a later step's gradient. These cases check that no gradient a user can see is ever written by
// a later step, on 1 thread (the pool's ordinary arrays) and 2 (resident storage).
//
// loss_k = sum(c ⊙ (x_k W)) for W [128, 128] (16,384 floats: resident, and updated on the threads, on 2
// threads): its gradient G_k = x_kᵀ c does not depend on W, and differs from step to step.

const N = 128;
const ROWS = 4;

/** Adam without its own stepKeepsNoGrad declaration: step reads every .grad through the getter (the plain path). */
class PlainAdam extends Adam {}

interface Setup {
  w: Tensor;
  xs: Tensor[];
  c: Tensor;
  /** G_k, from float64 sums. */
  expected: Float64Array[];
}

function setup(steps: number): Setup {
  const generator = new Generator(11);
  const w = Tensor.randn([N, N], { generator, requiresGrad: true });
  const c = Tensor.randn([ROWS, N], { generator });
  const xs: Tensor[] = [];
  const expected: Float64Array[] = [];
  for (let k = 0; k < steps; k++) {
    const x = Tensor.randn([ROWS, N], { generator });
    xs.push(x);
    const g = new Float64Array(N * N);
    const xd = x.data.data;
    const cd = c.data.data;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) for (let r = 0; r < ROWS; r++) g[i * N + j]! += xd[r * N + i]! * cd[r * N + j]!;
    expected.push(g);
  }
  return { w, xs, c, expected };
}

const lossOf = (s: Setup, k: number): Tensor => s.xs[k]!.matmul(s.w).mul(s.c).sum();

function expectClose(actual: Float32Array | Float64Array, expected: Float64Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst, what).toBeLessThan(1e-5);
}

const sum = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v + b[i]!);

/** Whether `a` lies in the threads' shared memory (its storage is a region, not its own ArrayBuffer). */
const resident = (a: Tensor): boolean => kernels.storageOf(a.data.data) !== a.data.data.buffer;

for (const threads of [1, 2]) {
  describe(`a .grad only backward and the optimizer saw, recycled when dropped (${threads} thread${threads > 1 ? "s" : ""})`, () => {
    afterAll(() => disableThreads());
    const start = async (): Promise<void> => {
      if (threads > 1) expect(await enableThreads(threads)).toBe(true);
      else disableThreads();
    };

    it("leaves a .grad read and kept at one step alone in the later steps, and gives each step its own gradient", async () => {
      await start();
      const s = setup(6);
      const optimizer = new Adam([s.w], { lr: 0.01 });
      let kept: Tensor | null = null;
      for (let k = 0; k < 6; k++) {
        optimizer.zeroGrad();
        lossOf(s, k).backward();
        // Unseen until read: on 2 threads it stays in the shared memory once the optimizer has stepped w.
        if (k === 1) expect(resident(kernels.peekGrad(s.w)!)).toBe(threads > 1);
        optimizer.step();
        if (k === 2) {
          kept = s.w.grad;
          // The read made it the user's: in ordinary memory from then on.
          expect(resident(kept!)).toBe(false);
        }
      }
      // Steps 3-5 recycled their unread gradients; step 2's is the user's and still holds G_2.
      expectClose(kept!.data.data, s.expected[2]!, "the .grad kept from step 2");
      expectClose(s.w.grad!.data.data, s.expected[5]!, "step 5's .grad, read after its step");
      expect(kept).not.toBe(s.w.grad);
    });

    it("reads .grad after every step: each read is that step's gradient and stays so", async () => {
      await start();
      const s = setup(4);
      const optimizer = new Adam([s.w], { lr: 0.01 });
      const reads: Tensor[] = [];
      for (let k = 0; k < 4; k++) {
        optimizer.zeroGrad();
        lossOf(s, k).backward();
        optimizer.step();
        reads.push(s.w.grad!);
        expectClose(reads[k]!.data.data, s.expected[k]!, `step ${k}'s .grad`);
      }
      for (let k = 0; k < 4; k++) expectClose(reads[k]!.data.data, s.expected[k]!, `step ${k}'s .grad after the last step`);
    });

    it("updates the weights to the same bits as the plain path (every .grad read), with gradients recycled or kept", async () => {
      await start();
      const run = (optimizerOf: (w: Tensor) => Adam, setToNone: boolean): Float32Array => {
        const s = setup(5);
        const optimizer = optimizerOf(s.w);
        for (let k = 0; k < 5; k++) {
          optimizer.zeroGrad({ setToNone });
          lossOf(s, k).backward();
          optimizer.step();
        }
        return Float32Array.from(s.w.data.data);
      };
      const plain = run((w) => new PlainAdam([w], { lr: 0.01 }), true);
      expect(run((w) => new Adam([w], { lr: 0.01 }), true)).toEqual(plain);
      expect(run((w) => new Adam([w], { lr: 0.01 }), false)).toEqual(plain);
    });

    it("with zeroGrad({ setToNone: false }), adds every backward into the same array where it is", async () => {
      await start();
      const s = setup(4);
      const optimizer = new Adam([s.w], { lr: 0.01 });
      lossOf(s, 0).backward();
      const first = kernels.peekGrad(s.w);
      optimizer.step();
      optimizer.zeroGrad({ setToNone: false });
      lossOf(s, 1).backward();
      // Two backwards without zeroGrad in between add up.
      lossOf(s, 2).backward();
      expect(kernels.peekGrad(s.w)).toBe(first);
      optimizer.step();
      expectClose(s.w.grad!.data.data, sum(s.expected[1]!, s.expected[2]!), "G_1 + G_2");
      // Read now, the user's: zeroGrad({ setToNone: false }) fills it with zeros where it is, and the next backward adds into it.
      const held = s.w.grad!;
      optimizer.zeroGrad({ setToNone: false });
      lossOf(s, 3).backward();
      expect(s.w.grad).toBe(held);
      expectClose(held.data.data, s.expected[3]!, "G_3 in the array the user holds");
    });

    it("with retainGraph, the second backward adds into the first's .grad, and a later step gets its own", async () => {
      await start();
      const s = setup(2);
      const optimizer = new Adam([s.w], { lr: 0.01 });
      const loss = lossOf(s, 0);
      loss.backward(undefined, { retainGraph: true });
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
      lossOf(s, 1).backward();
      optimizer.step();
      expectClose(s.w.grad!.data.data, s.expected[1]!, "G_1 after the retained step's .grad was recycled");
      const again = lossOf(s, 0);
      again.backward(undefined, { retainGraph: true });
      again.backward();
      expectClose(s.w.grad!.data.data, sum(sum(s.expected[1]!, s.expected[0]!), s.expected[0]!), "G_1 + 2 G_0");
    });

    it("keeps the resident regions flat over steps whose .grads are recycled", async () => {
      await start();
      const s = setup(1);
      const optimizer = new Adam([s.w], { lr: 0.01 });
      const step = (): void => {
        optimizer.zeroGrad();
        lossOf(s, 0).backward();
        optimizer.step();
      };
      for (let i = 0; i < 3; i++) step();
      const taken = kernels.residentStorageStats().takenBytes;
      for (let i = 0; i < 10; i++) step();
      expect(kernels.residentStorageStats().takenBytes).toBe(taken);
    });
  });
}
