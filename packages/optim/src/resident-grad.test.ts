import { Generator, Tensor, kernels, type FloatArray } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
import type { ParamGroup } from "./optimizer.js";
import type { SGDGroupOptions } from "./sgd-family.js";
import { SGD } from "./sgd.js";

// On 2 threads a .grad may stay in the threads' shared memory (resident storage) only for a tensor an
// optimizer steps: zeroGrad drops it before the next backward and its region comes back. Any other leaf's
// .grad (here a fresh input that requires grad each step, whose .grad nobody reads or drops) goes to
// ordinary memory, or each step would keep a region until the collector and a finalizer run.
// loss = sum(c ⊙ (a W)) + sum(x u), W and x [128, 128] (64 KB each: resident-sized), a and c [4, 128],
// u [128, 1]: the forward values are small (ordinary memory), the two gradients resident-sized.
// W.grad = aᵀ c; x.grad has every row equal to uᵀ.

const N = 128;
const ROWS = 4;

const resident = (t: Tensor): boolean => kernels.storageOf(t.data.data) !== t.data.data.buffer;

describe("a .grad in the threads' shared memory (2 threads)", () => {
  afterAll(() => disableThreads());

  it("keeps resident storage flat over 50 steps with a fresh input that requires grad, and keeps the stepped weight's .grad resident", async () => {
    expect(await enableThreads(2)).toBe(true);
    const generator = new Generator(7);
    const w = Tensor.randn([N, N], { generator, requiresGrad: true });
    const x0 = Tensor.randn([N, N], { generator });
    const a = Tensor.randn([ROWS, N], { generator });
    const c = Tensor.randn([ROWS, N], { generator });
    const u = Tensor.randn([N, 1], { generator });
    const sgd = new SGD([w], { lr: 1e-4 });
    const taken: number[] = [];
    const inputResident: boolean[] = [];
    const weightResident: boolean[] = [];
    let x: Tensor | null = null;
    for (let k = 0; k < 50; k++) {
      sgd.zeroGrad();
      x = new Tensor(x0.data, { requiresGrad: true });
      a.matmul(w).mul(c).sum().add(x.matmul(u).sum()).backward();
      inputResident.push(resident(kernels.peekGrad(x)!));
      weightResident.push(resident(kernels.peekGrad(w)!));
      sgd.step();
      taken.push(kernels.residentStorageStats().takenBytes);
    }
    expect(taken[49]).toBe(taken[4]);
    expect(inputResident.filter(Boolean)).toHaveLength(0);
    // From its second step on, the weight's gradient stays where the threaded update reads it.
    expect(weightResident.slice(1).every(Boolean)).toBe(true);
    // The last input's .grad, read now: every row is uᵀ.
    const got = x!.grad!.data.data;
    let worst = 0;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) worst = Math.max(worst, Math.abs(got[i * N + j]! - u.data.data[j]!));
    expect(worst).toBeLessThan(1e-5);
  });
});

describe("a parameter no optimizer steps any more (2 threads)", () => {
  afterAll(() => disableThreads());

  it("gets an ordinary .grad from the second backward on, whether taken out of its optimizer or stepped by one that reads through the getter, with PyTorch's values", async () => {
    expect(await enableThreads(2)).toBe(true);
    const generator = new Generator(9);
    const a = Tensor.randn([ROWS, N], { generator });
    const c = Tensor.randn([ROWS, N], { generator });
    // Every weight's gradient is G = aᵀ c, whatever the weights: float64 sums.
    const G = new Float64Array(N * N);
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) for (let r = 0; r < ROWS; r++) G[i * N + j]! += a.data.data[r * N + i]! * c.data.data[r * N + j]!;
    const worstOff = (values: ArrayLike<number>, times: number): number => {
      let worst = 0;
      for (let i = 0; i < N * N; i++) worst = Math.max(worst, Math.abs(values[i]! - times * G[i]!));
      return worst;
    };
    const [kept, dropped, user, left] = [0, 1, 2, 3].map(() => Tensor.randn([N, N], { generator, requiresGrad: true })) as [Tensor, Tensor, Tensor, Tensor];
    const term = (w: Tensor): Tensor => a.matmul(w).mul(c).sum();
    const loss = (): void => term(kept).add(term(dropped)).add(term(user)).add(term(left)).backward();
    const residentAfterBackward = (w: Tensor): boolean => resident(kernels.peekGrad(w)!);

    // Three steps of SGD over all four: from the second on, every .grad is resident.
    const all = new SGD([kept, dropped, user, left], { lr: 1e-4 });
    for (let k = 0; k < 3; k++) {
      all.zeroGrad();
      loss();
      expect([kept, dropped, user, left].map((w) => residentAfterBackward(w))).toEqual(k === 0 ? [false, false, false, false] : [true, true, true, true]);
      all.step();
    }
    const takenBefore = kernels.residentStorageStats().takenBytes;

    // Then `kept` alone stays in a peeking SGD; `dropped` is taken out, its .grad dropped every step (as
    // Module.zeroGrad does); `user` is stepped by an optimizer that keeps every gradient it is given; `left`
    // is taken out and nothing drops its .grad, which accumulates, as in PyTorch.
    class KeepingSGD extends SGD {
      readonly kept: FloatArray[] = [];
      protected override updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<SGDGroupOptions>): void {
        this.kept.push(g);
        super.updateParameter(param, p, g, group);
      }
    }
    const one = new SGD([kept], { lr: 1e-4 });
    const keeping = new KeepingSGD([user], { lr: 1e-4 });
    const residency: boolean[][] = [];
    const STEPS = 5;
    for (let k = 0; k < STEPS; k++) {
      one.zeroGrad();
      keeping.zeroGrad();
      dropped.grad = null;
      loss();
      residency.push([kept, dropped, user].map((w) => residentAfterBackward(w)));
      expect(worstOff(kernels.peekGrad(dropped)!.data.data, 1)).toBeLessThan(1e-5);
      one.step();
      keeping.step();
    }
    // The stepped one stays resident; the others keep one resident .grad (the mark of the last step that
    // read them), then are ordinary like any tensor no optimizer steps.
    expect(residency).toEqual([[true, true, true], ...Array.from({ length: STEPS - 1 }, () => [true, false, false])]);
    // The user's optimizer kept five arrays, each still G.
    expect(new Set(keeping.kept).size).toBe(STEPS);
    for (const g of keeping.kept) expect(worstOff(g, 1)).toBeLessThan(1e-5);
    // What the shared memory holds: two .grads fewer (`dropped` and `user` are ordinary now).
    expect(kernels.residentStorageStats().takenBytes).toBe(takenBefore - 2 * N * N * 4);
    // `left` accumulated its last step's G and five more in its one resident region: 6 G, read now (which
    // moves it to ordinary memory, a third region back).
    expect(residentAfterBackward(left)).toBe(true);
    const leftGrad = left.grad!;
    expect(resident(leftGrad)).toBe(false);
    expect(worstOff(leftGrad.data.data, STEPS + 1)).toBeLessThan(1e-4);
    expect(kernels.residentStorageStats().takenBytes).toBe(takenBefore - 3 * N * N * 4);
  });
});
