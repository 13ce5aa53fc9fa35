import { describe, expect, it } from "vitest";
import { networkFlops } from "./flops.js";

describe("networkFlops", () => {
  it("counts the CIFAR-shaped network's convolutions and classifier from their shapes", () => {
    // Multiply-adds per image: 32·32²·27 + 32·32²·288 + 64·16²·288 + 2·64·16²·576 + 128·8²·576 + 128·10.
    const macs = 884_736 + 9_437_184 + 4_718_592 + 2 * 9_437_184 + 4_718_592 + 1_280;
    const flops = networkFlops("cifar");
    expect(flops.forward).toBe(2 * macs);
    // The first convolution needs no input gradient: 2 passes instead of 3.
    expect(flops.train).toBe(2 * (3 * macs - 884_736));
  });

  it("counts the reference network", () => {
    const macs = 8 * 24 * 24 * 25 + 16 * 8 * 8 * 200 + 256 * 120 + 120 * 10;
    expect(networkFlops("reference")).toEqual({ forward: 2 * macs, train: 2 * (3 * macs - 8 * 24 * 24 * 25) });
  });
});
