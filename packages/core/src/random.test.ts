import { describe, expect, it } from "vitest";
import { ArgumentError, Generator, defaultGenerator, manualSeed } from "./index.js";

describe("Generator", () => {
  it("the same seed gives the same stream; different seeds differ", () => {
    const a = new Generator(5);
    const b = new Generator(5);
    const c = new Generator(6);
    const xs = Array.from({ length: 10 }, () => a.random());
    expect(Array.from({ length: 10 }, () => b.random())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c.random())).not.toEqual(xs);
  });

  it("random is in [0, 1), randint in [0, n) and covers it", () => {
    const g = new Generator(1);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) {
      const r = g.random();
      expect(r >= 0 && r < 1).toBe(true);
      counts[g.randint(7)]! += 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(850);
  });

  it("normal has mean 0 and variance 1", () => {
    const g = new Generator(2);
    const xs = Array.from({ length: 20_000 }, () => g.normal());
    const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
    const variance = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });

  it("shuffle permutes in place, reproducibly", () => {
    const a = Array.from({ length: 20 }, (_, i) => i);
    const b = [...a];
    new Generator(3).shuffle(a);
    new Generator(3).shuffle(b);
    expect(a).toEqual(b);
    expect(a).not.toEqual([...a].sort((x, y) => x - y));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("getState/setState resume the stream exactly, including a cached normal", () => {
    const g = new Generator(4);
    g.normal();
    const state = g.getState();
    const next = [g.normal(), g.random(), g.normal()];
    const h = new Generator(99).setState(state);
    expect([h.normal(), h.random(), h.normal()]).toEqual(next);
    expect(() => h.setState({ words: [1, 2], spareNormal: null })).toThrow(ArgumentError);
    expect(() => h.setState({ words: [1, 2, 3, 0.5], spareNormal: null })).toThrow(/state.words must be an array of 4 integers/);
  });

  it("manualSeed reseeds the default generator", () => {
    manualSeed(8);
    const x = defaultGenerator.random();
    manualSeed(8);
    expect(defaultGenerator.random()).toBe(x);
  });
});
