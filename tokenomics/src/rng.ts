// A run's random draws: the project's seeded generator (protocol's seededRandom, the same stream on
// every machine and Node.js version, which Math.random cannot promise) with the normal and integer
// draws the simulator needs. Every draw of a run comes from its one generator, in a fixed order, so
// a run is reproducible bit for bit.
import { seededRandom } from '@groundwork/protocol';

export class Rng {
  private readonly u32: () => number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.u32 = seededRandom(seed);
  }

  /** A uint32. */
  nextU32(): number {
    return this.u32();
  }

  /** Uniform in [0, 1), 32 bits of it. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}
