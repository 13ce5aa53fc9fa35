import { DataLoader, MNIST, MNIST_MEAN, MNIST_STD, normalize } from "@pico/data";
import { describe, expect, it } from "vitest";
import { MnistBatches } from "./mnist-batches.js";

describe("MnistBatches", () => {
  // The 10,000 test digits: 156 batches of 64 and a last one of 16.
  const digits = new MNIST({ train: false });
  const loader = new DataLoader(digits, { batchSize: 64, shuffle: true, seed: 7, transform: normalize(MNIST_MEAN, MNIST_STD) });
  const batches = new MnistBatches(digits, 64, 7);

  it("yields the shuffled DataLoader's batches with normalize's exact values, the last one smaller", () => {
    expect(batches.length).toBe(loader.length);
    for (const epoch of [0, 1]) {
      const expected = [...loader.batches(epoch)];
      let b = 0;
      for (const [inputs, targets] of batches.batches(epoch)) {
        const [x, y] = expected[b++]!;
        expect(inputs.shape).toEqual(x.shape);
        // Bit for bit: the same bytes through the same scaling and normalization.
        const [got, want] = [inputs.toTypedArray(), x.toTypedArray()];
        expect(got.length).toBe(want.length);
        const differs = got.findIndex((v, i) => !Object.is(v, want[i]));
        expect(differs === -1 ? "equal" : `differs at ${differs}: ${got[differs]} vs ${want[differs]}`).toBe("equal");
        expect(targets.toTypedArray()).toEqual(y.toTypedArray());
      }
      expect(b).toBe(expected.length);
    }
    expect([...batches.batches(0)].at(-1)![0].shape).toEqual([16, 1, 28, 28]);
  });

  it("reuses one buffer: each batch moves its tensors' version, so nothing computed from the previous batch is reused", () => {
    const it = batches.batches(3);
    const [first] = it.next().value!;
    const version = first.version;
    const copy = first.toTypedArray().slice();
    const [second] = it.next().value!;
    expect(second).toBe(first);
    expect(second.version).toBe(version + 1);
    expect(second.toTypedArray()).not.toEqual(copy);
  });
});
