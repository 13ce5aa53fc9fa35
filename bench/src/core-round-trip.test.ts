import { describe, expect, it } from "vitest";
import { coreRoundTripNs } from "./core-round-trip.js";

describe("coreRoundTripNs", () => {
  it("times a shared word's round trip between two threads and stops its worker", async () => {
    const ns = await coreRoundTripNs({ batches: 3, perBatch: 50 });
    // A cache line crosses between cores in tens to hundreds of ns (and one core alone takes turns of a
    // time slice), so a round trip under 10 ns would mean the word never crossed: no upper bound, since
    // under load the two threads may not run at once.
    expect(Number.isFinite(ns)).toBe(true);
    expect(ns).toBeGreaterThan(10);
  });

  it("gives up with an error naming itself when the batches take longer than the time allowed", async () => {
    await expect(coreRoundTripNs({ batches: 1_000_000, perBatch: 1000, timeoutMs: 50 })).rejects.toThrow(/coreRoundTripNs: .* within 50 ms/);
  });
});
