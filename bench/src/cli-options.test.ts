import { describe, expect, it } from "vitest";
import { parseOptions } from "./cli-options.js";

describe("bench command line", () => {
  it("runs the full comparison by default and writes bench/results.json", () => {
    const o = parseOptions([])!;
    expect(o.networks).toEqual(["reference", "cifar"]);
    expect(o.systems).toEqual(["pico", "tfjs-wasm", "tfjs-cpu", "torch"]);
    expect(o.threads).toEqual([1, 2]);
    expect(o.settings.reference).toEqual({ warmup: 300, maxWarmup: 4000, settleSteps: 3000, maxWarmupSeconds: 20, steps: 100, inferReps: 30, minTimedSeconds: 3 });
    expect(o.settings.cifar).toEqual({ warmup: 3, maxWarmup: 300, settleSteps: 200, maxWarmupSeconds: 20, steps: 8, inferReps: 5, minTimedSeconds: 3 });
    expect(o.out).toMatch(/bench[/\\]results\.json$/);
    expect([o.rounds, o.checkSteps, o.niceness, o.breakdown]).toEqual([3, 20, 0, false]);
  });

  it("takes a quick run after pnpm's -- and writes nothing unless asked", () => {
    const o = parseOptions(["--", "--network", "cifar", "--systems", "pico", "--rounds", "2", "--threads", "2,1,2", "--steps", "4", "--nice=-20"])!;
    expect(o.networks).toEqual(["cifar"]);
    expect(o.systems).toEqual(["pico"]);
    expect(o.threads).toEqual([1, 2]);
    expect(o.rounds).toBe(2);
    expect(o.settings.cifar.steps).toBe(4);
    expect(o.settings.reference.steps).toBe(4);
    expect(o.niceness).toBe(-20);
    expect(o.out).toBeNull();
    expect(parseOptions(["--breakdown", "--out", "/tmp/x.json"])!.out).toBe("/tmp/x.json");
    expect(parseOptions(["--help"])).toBeNull();
  });

  it("warms up until steady within --max-warmup; an explicit --warmup alone is a fixed warm-up", () => {
    const fixed = parseOptions(["--warmup", "500"])!;
    expect([fixed.settings.reference.warmup, fixed.settings.reference.maxWarmup]).toEqual([500, 500]);
    const capped = parseOptions(["--max-warmup", "1200"])!;
    expect([capped.settings.reference.warmup, capped.settings.reference.maxWarmup, capped.settings.reference.settleSteps]).toEqual([300, 1200, 1200]);
    expect([fixed.settings.reference.settleSteps, fixed.settings.cifar.settleSteps]).toEqual([500, 500]);
    const settle = parseOptions(["--network", "reference", "--settle-steps", "2500"])!;
    expect([settle.settings.reference.warmup, settle.settings.reference.maxWarmup, settle.settings.reference.settleSteps]).toEqual([300, 4000, 2500]);
    expect(() => parseOptions(["--network", "reference", "--settle-steps", "4100"])).toThrow(
      "bench: --settle-steps must be at most the warm-up's cap (4000 on the reference network), but got 4100",
    );
    expect(() => parseOptions(["--network", "reference", "--warmup", "400", "--max-warmup", "300"])).toThrow(
      "bench: --max-warmup must be at least the warm-up (400 on the reference network), but got 300",
    );
    const cifar = parseOptions(["--network", "cifar", "--max-warmup", "27", "--max-warmup-seconds", "5.5"])!;
    expect([cifar.settings.cifar.maxWarmup, cifar.settings.cifar.maxWarmupSeconds]).toEqual([27, 5.5]);
    expect(() => parseOptions(["--max-warmup-seconds", "0"])).toThrow('bench: --max-warmup-seconds must be a positive number of seconds, but got "0"');
  });

  it("times each part of a run for at least --min-timed-seconds (0: exactly --steps and --infer-reps), refused where nothing would use it", () => {
    const o = parseOptions(["--min-timed-seconds", "1.5"])!;
    expect([o.settings.reference.minTimedSeconds, o.settings.cifar.minTimedSeconds]).toEqual([1.5, 1.5]);
    expect(parseOptions(["--min-timed-seconds", "0"])!.settings.cifar.minTimedSeconds).toBe(0);
    expect(() => parseOptions(["--min-timed-seconds=-1"])).toThrow('bench: --min-timed-seconds must be a non-negative number of seconds, but got "-1"');
    expect(() => parseOptions(["--breakdown", "--min-timed-seconds", "2"])).toThrow(
      "bench: --min-timed-seconds times the comparison's runs; --breakdown times a fixed number of steps and calls",
    );
    expect(() => parseOptions(["--latency", "--min-timed-seconds", "2"])).toThrow(
      "bench: --min-timed-seconds times the comparison's runs; --latency times a fixed number of steps and calls",
    );
  });

  it("refuses bad values, naming the option, the rule and what it got", () => {
    expect(() => parseOptions(["--network", "resnet"])).toThrow('bench: --network must be reference, cifar or all, but got "resnet"');
    expect(() => parseOptions(["--systems", "pico,jax"])).toThrow('bench: --systems takes a comma-separated list of pico, tfjs-wasm, tfjs-cpu, torch, but got "jax"');
    expect(() => parseOptions(["--threads", "0"])).toThrow('bench: --threads must be an integer >= 1, but got "0"');
    expect(() => parseOptions(["--rounds", "two"])).toThrow('bench: --rounds must be an integer >= 1, but got "two"');
    expect(() => parseOptions(["--nice=-21"])).toThrow('bench: --nice must be an integer from -20 to 19, but got "-21"');
    expect(() => parseOptions(["--fast"])).toThrow(/bench: Unknown option '--fast'/);
  });
});
