/**
 * Seeded random numbers: every random draw in rnnlab comes from an Rng.
 *
 * Generator: xoshiro128** (Blackman & Vigna), seeded through splitmix32. Its whole state is four
 * uint32 words, so `state()` / `Rng.fromState()` make checkpoints resume the exact stream.
 * Independent streams for sub-systems come from `fork(label)`, which hashes the label into a new seed
 * without advancing the parent, so adding a consumer does not shift anyone else's numbers.
 * TF.js random ops take a seed from `tfSeed()`: deterministic on every backend.
 */

export interface RngState {
  seed: number;
  s: [number, number, number, number];
  /** A cached second normal from Box-Muller, or null. */
  spare: number | null;
}

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a hash of a string, for fork labels. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

export class Rng {
  readonly seed: number;
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Rng seed must be an integer, got ${seed}`);
    this.seed = seed >>> 0;
    const sm = splitmix32(this.seed);
    this.s = new Uint32Array([sm(), sm(), sm(), sm()]);
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(state.seed);
    if (!Array.isArray(state.s) || state.s.length !== 4) throw new Error("Rng.fromState: malformed state");
    r.s = new Uint32Array(state.s);
    r.spare = state.spare;
    return r;
  }

  state(): RngState {
    return { seed: this.seed, s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  /** An independent stream named `label`; does not advance this one. */
  fork(label: string): Rng {
    return new Rng((Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d) ^ hashString(label)) >>> 0);
  }

  /** Next uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniformRange(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Integer uniform in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Box-Muller, polar form). */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return mean + std * v;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * m;
    return mean + std * u * m;
  }

  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** k distinct integers from [0, n), in increasing order. */
  sampleWithoutReplacement(n: number, k: number): number[] {
    if (k > n || k < 0) throw new Error(`Rng.sampleWithoutReplacement: need 0 <= k <= n, got k=${k}, n=${n}`);
    const chosen = new Set<number>();
    // Floyd's algorithm: k draws, no O(n) array.
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return [...chosen].sort((a, b) => a - b);
  }

  /** A seed for a TF.js random op (tf.randomUniform(..., seed)); deterministic across backends. */
  tfSeed(): number {
    return this.nextUint32();
  }

  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }
}
