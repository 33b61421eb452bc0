/**
 * The benchmarks' one seeded random number generator, so that every input they build is the
 * same from the same seed, run after run and side after side.
 */

/**
 * mulberry32: a small, fast, seedable PRNG returning unsigned 32-bit integers. Quality is
 * irrelevant here; determinism is the point.
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
