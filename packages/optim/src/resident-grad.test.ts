import { Generator, Tensor, kernels } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
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
