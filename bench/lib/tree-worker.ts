/**
 * One side of bench/epoch-close-tree.ts, run in its own process so that its peak memory
 * (maxRSS) is its own:
 *
 *   node --import tsx bench/lib/tree-worker.ts --mode fast|oz --leaves N --seed S --proofs P
 *
 * Generates N deterministic leaves from the seed (both modes get the same leaves, each in the
 * shape its tree takes), records the resident memory after that (and a GC, when run with
 * --expose-gc) as the baseline, then times
 * "build the tree and fetch P proofs". The proofs are verified after the clock stops. Prints
 * one JSON line: { mode, leaves, ms, root, maxRssKiB, baselineRssKiB, proofsChecked }.
 */
import { parseArgs } from 'node:util';
import { peakRssKiB, settleAndResetPeak } from './memory.ts';
import type { RewardLeaf } from '../../protocol/src/merkle.ts';
import { seededRandom } from '@groundwork/protocol';

export type WorkerResult = {
  mode: 'fast' | 'oz';
  leaves: number;
  ms: number;
  root: string;
  maxRssKiB: number;
  baselineRssKiB: number;
  proofsChecked: number;
};

/**
 * A random lowercase address as one flat string. (A template literal would leave a rope of
 * small strings, which costs both sides extra memory and makes whoever reads it first pay to
 * flatten it; addresses decoded from logs or JSON are flat.)
 */
function randomAccount(next: () => number, ascii: Buffer): `0x${string}` {
  for (let w = 0; w < 5; w++) ascii.write(next().toString(16).padStart(8, '0'), 2 + 8 * w, 'latin1');
  return ascii.toString('latin1') as `0x${string}`;
}

/**
 * Distinct random accounts with amounts like cumulative wei rewards: up to ~10^24, with every
 * 50th amount zero and the first one 2^256 - 1 to exercise the full width.
 */
export function generateLeaves(n: number, seed: number): RewardLeaf[] {
  const next = seededRandom(seed);
  const ascii = Buffer.from('0x'.padEnd(42, '0'), 'latin1');
  const leaves: RewardLeaf[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const account = randomAccount(next, ascii);
    const wei = (BigInt(next() & 0xffff) << 64n) | (BigInt(next()) << 32n) | BigInt(next());
    leaves[i] = { account, amount: i === 0 ? (1n << 256n) - 1n : i % 50 === 0 ? 0n : wei };
  }
  return leaves;
}

/** The leaf indexes whose proofs are fetched, chosen before the clock starts. */
function proofIndexes(n: number, count: number, seed: number): number[] {
  const next = seededRandom(seed ^ 0x5eed);
  return Array.from({ length: count }, () => next() % n);
}

type Hex = `0x${string}`;
const ENCODING = ['address', 'uint256'];

type Side = {
  /** Builds the tree and fetches the proofs: the timed part. */
  run(): { root: string; proofs: string[][] };
  /** Checks the fetched proofs against the root, untimed; returns how many held. */
  check(root: string, proofs: string[][]): number;
};

// Each side imports only its own tree, so neither process holds the other's code.
async function fastSide(leaves: RewardLeaf[], indexes: number[]): Promise<Side> {
  const { RewardTree, verifyRewardProof } = await import('../../protocol/src/merkle.ts');
  return {
    run() {
      const tree = RewardTree.of(leaves);
      return { root: tree.root, proofs: indexes.map((i) => tree.proof(i)) };
    },
    check: (root, proofs) => proofs.filter((proof, k) => verifyRewardProof(root as Hex, leaves[indexes[k]!]!, proof as Hex[])).length,
  };
}

async function ozSide(leaves: RewardLeaf[], indexes: number[]): Promise<Side> {
  const { StandardMerkleTree } = await import('@openzeppelin/merkle-tree');
  // The library takes tuples; making them is part of preparing its input, so not timed.
  const values = leaves.map((leaf) => [leaf.account, leaf.amount]);
  leaves.length = 0; // keep only the shape this side uses, as the fast side does
  return {
    run() {
      const tree = StandardMerkleTree.of(values, ENCODING);
      return { root: tree.root, proofs: indexes.map((i) => tree.getProof(i)) };
    },
    check: (root, proofs) => proofs.filter((proof, k) => StandardMerkleTree.verify(root, ENCODING, values[indexes[k]!]!, proof)).length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      leaves: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '1' },
      proofs: { type: 'string', default: '1000' },
    },
  });
  const mode = values.mode;
  if (mode !== 'fast' && mode !== 'oz') throw new Error(`--mode must be fast or oz, got ${mode}`);
  const n = Number(values.leaves);
  const seed = Number(values.seed);

  const leaves = generateLeaves(n, seed);
  const indexes = proofIndexes(n, Math.min(Number(values.proofs), n), seed);
  const side = await (mode === 'fast' ? fastSide(leaves, indexes) : ozSide(leaves, indexes));
  // Drop generation garbage and reset the peak, so the peak measured is the timed part's.
  const { baselineRssKiB } = await settleAndResetPeak();

  const started = performance.now();
  const { root, proofs } = side.run();
  const ms = performance.now() - started;
  const maxRssKiB = peakRssKiB();

  const result: WorkerResult = {
    mode,
    leaves: n,
    ms: Math.round(ms),
    root,
    maxRssKiB,
    baselineRssKiB,
    proofsChecked: side.check(root, proofs),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
