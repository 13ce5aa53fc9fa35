import { describe, expect, it } from "vitest";
import { coreRoundTripNs } from "./core-round-trip.js";

describe("coreRoundTripNs", () => {
  it("times a shared word's round trip between two threads and stops its worker", async () => {
    const ns = await coreRoundTripNs({ batches: 3, perBatch: 50 });
    // A cache line crosses between cores in tens to hundreds of ns; one core alone would take turns of a time slice.
    expect(Number.isFinite(ns)).toBe(true);
    expect(ns).toBeGreaterThan(1);
  });

  it("gives up with an error naming itself when the batches take longer than the time allowed", async () => {
    await expect(coreRoundTripNs({ batches: 1_000_000, perBatch: 1000, timeoutMs: 50 })).rejects.toThrow(/coreRoundTripNs: .* within 50 ms/);
  });
});
