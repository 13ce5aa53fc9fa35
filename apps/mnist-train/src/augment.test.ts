import { Tensor, manualSeed } from "@pico/core";
import { TensorDataset } from "@pico/data";
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./args.js";
import { loaderFor } from "./data.js";
import { buildModel } from "./models.js";
import { planNewRun } from "./run-plan.js";

describe("--model resnet and --augment", () => {
  it("--augment is a switch without a value, recorded in the run's settings", () => {
    const parsed = parseCommandLine(["train", "--model", "resnet", "--augment", "--epochs", "2"]);
    expect(parsed).toEqual({ command: "train", values: { model: "resnet", augment: "true", epochs: "2" }, positionals: [] });
    const planned = planNewRun((parsed as { values: Record<string, string> }).values);
    expect("plan" in planned && planned.plan.config).toMatchObject({ model: "resnet", augment: true, epochs: 2 });
    const plain = planNewRun({});
    expect("plan" in plain && plain.plan.config.augment).toBe(false);
    expect(() => parseCommandLine(["train", "--augment=yes"])).toThrow("unknown option '--augment=yes'");
  });

  it("builds ResNet-8 with torchvision's keys for 1x28x28 digits", () => {
    const model = buildModel("resnet");
    expect(model.numParameters()).toBe(77_754);
    expect(Object.keys(model.stateDict())).toContain("layer2.0.downsample.0.weight");
    expect(model.eval().forward(Tensor.zeros([2, 1, 28, 28])).shape).toEqual([2, 10]);
  });

  it("augments training batches (seeded, labels untouched) and leaves them alone without --augment", () => {
    const images = Tensor.zeros([4, 1, 28, 28]);
    const pixels = images.data.data as Float32Array;
    for (let n = 0; n < 4; n++) for (let y = 10; y < 18; y++) for (let x = 12; x < 16; x++) pixels[n * 784 + y * 28 + x] = 1;
    const dataset = new TensorDataset(images, Tensor.arange(0, 4));
    const firstBatch = (augment: boolean): [number[], number[]] => {
      manualSeed(3);
      const [inputs, targets] = loaderFor(dataset, 4, false, 0, augment).batches(0).next().value!;
      return [Array.from(inputs.toTypedArray()), Array.from(targets.toTypedArray())];
    };
    const [plain, plainLabels] = firstBatch(false);
    const [augmented, labels] = firstBatch(true);
    expect(firstBatch(true)[0]).toEqual(augmented);
    expect(labels).toEqual(plainLabels);
    expect(augmented).not.toEqual(plain);
    // Each image still holds the stroke's ink (shifted, turned and scaled, not lost): 32 pixels at 0.9 to 1.1 scale.
    const background = plain[0]!;
    for (let n = 0; n < 4; n++) {
      const ink = augmented.slice(n * 784, (n + 1) * 784).reduce((s, v) => s + (v - background), 0) / (plain[n * 784 + 10 * 28 + 12]! - background);
      expect(ink).toBeGreaterThan(32 * 0.75);
      expect(ink).toBeLessThan(32 * 1.3);
      expect(augmented.slice(n * 784, (n + 1) * 784)).not.toEqual(plain.slice(n * 784, (n + 1) * 784));
    }
  });
});
