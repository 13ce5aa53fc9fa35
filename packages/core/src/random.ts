import { ArgumentError } from "./errors.js";

/**
 * A seedable generator (xoshiro128**), so that every random draw in Pico.ts can be replayed:
 * initialisation, dropout, shuffling and augmentation all take their numbers from a Generator.
 */
export class Generator {
  private s = new Uint32Array(4);
  private spareNormal: number | null = null;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number): this {
    // splitmix32 expands one number into four well-mixed words of state.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
    this.spareNormal = null;
    return this;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  randint(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.randint(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
  }

  getState(): GeneratorState {
    return { words: Array.from(this.s), spareNormal: this.spareNormal };
  }

  setState(state: GeneratorState): this {
    if (!Array.isArray(state.words) || state.words.length !== 4 || !state.words.every((w) => Number.isInteger(w))) {
      throw new ArgumentError(`Generator.setState: state.words must be an array of 4 integers, but got ${JSON.stringify(state.words)}`);
    }
    this.s.set(state.words);
    this.spareNormal = state.spareNormal;
    return this;
  }
}

export interface GeneratorState {
  words: number[];
  spareNormal: number | null;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator used when none is passed explicitly (like torch's default generator). */
export const defaultGenerator = new Generator(0);

/** Seeds the default generator, making tensor factories, initialisers and dropout reproducible. */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
