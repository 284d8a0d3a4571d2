// Randomness behind an interface (CoreDNS habit): the query path takes an `Rng`, tests pass a seeded one.

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a tiny, fast 32-bit generator, good enough for weighted coin flips (not for secrets).
 * Outputs are multiples of 2^-32, so a weight split resolves to ~2.3e-10, far below 0.01%.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The production source: V8's xorshift128+ behind `Math.random`. */
export const mathRandom: Rng = () => Math.random();
