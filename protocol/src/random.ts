// A seeded random number generator for simulations, tests and benchmarks: the same seed gives the
// same sequence on every machine, so a generated fleet, a fuzz case or a benchmark input
// reproduces. Not for keys or nonces (those come from node:crypto).

/**
 * mulberry32: small, fast, seedable; returns unsigned 32-bit integers.
 *
 * @example
 * const next = seededRandom(1);
 * next() % 6 // the same die roll every run
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same sequence scaled to [0, 1). */
export function seededUnit(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() / 2 ** 32;
}
