/**
 * Benchmark: the reward tree an epoch close builds. RewardTree (protocol/src/merkle.ts) against
 * @openzeppelin/merkle-tree's StandardMerkleTree, on the same deterministic leaves.
 *
 *   node --import tsx bench/epoch-close-tree.ts [--leaves N] [--seed S] [--proofs P] [--skip-baseline] [--json]
 *
 * Each side runs in its own child process (bench/lib/tree-worker.ts), one after the other, so
 * that each peak RSS is its own and neither competes with the other for the CPU. A side
 * generates the leaves first (untimed), lets its memory settle and notes it as the baseline,
 * resets the peak (bench/lib/memory.ts), then times building the tree and fetching P proofs
 * ("every proof can be produced"); its peak RSS is the timed part's.
 *
 * Targets, set for a million leaves and checked from that size up (below it, the runtime's fixed
 * memory dominates both peaks): speedup = oz_ms / fast_ms >= 30 and memory = fast peak RSS /
 * oz peak RSS <= 0.25. Exits 1 if the roots differ, if a fetched proof does not verify, or if a
 * checked target is missed. --skip-baseline runs only the fast side (no ratios, nothing to
 * compare); --json prints one JSON object instead of the table.
 */
import { runWorker } from './lib/child.ts';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { WorkerResult } from './lib/tree-worker.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = fileURLToPath(new URL('./lib/tree-worker.ts', import.meta.url));
const TARGET_SPEEDUP = 30;
const TARGET_MEMORY = 0.25;
const TARGET_LEAVES = 1_000_000;

type Options = { leaves: number; seed: number; proofs: number };

/** Runs one side in a fresh process and returns the JSON line it prints. */
function runSide(mode: WorkerResult['mode'], options: Options): Promise<WorkerResult> {
  return runWorker<WorkerResult>(
    WORKER,
    ['--mode', mode, '--leaves', String(options.leaves), '--seed', String(options.seed), '--proofs', String(options.proofs)],
    `${mode} side`,
    ROOT,
  );
}

type Comparison = {
  speedup: number;
  memory: number;
  /** The same ratio over what each build added above its own input. */
  memoryAboveBaseline: number;
  rootsEqual: boolean;
  /** Whether the leaf count is one the targets are set for. */
  targetsChecked: boolean;
  pass: boolean;
};

function compare(fast: WorkerResult, oz: WorkerResult): Comparison {
  const speedup = oz.ms / fast.ms;
  const memory = fast.maxRssKiB / oz.maxRssKiB;
  const memoryAboveBaseline = (fast.maxRssKiB - fast.baselineRssKiB) / (oz.maxRssKiB - oz.baselineRssKiB);
  const rootsEqual = fast.root === oz.root;
  const targetsChecked = fast.leaves >= TARGET_LEAVES;
  const targetsMet = speedup >= TARGET_SPEEDUP && memory <= TARGET_MEMORY;
  const pass = rootsEqual && (targetsMet || !targetsChecked);
  return { speedup, memory, memoryAboveBaseline, rootsEqual, targetsChecked, pass };
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const ms = (value: number) => `${value.toLocaleString('en-US')} ms`;

function printTable(options: Options, sides: WorkerResult[], comparison: Comparison | undefined): void {
  const leaves = options.leaves.toLocaleString('en-US');
  console.log(`\nreward tree, ${leaves} leaves (seed ${options.seed}), build + ${options.proofs} proofs\n`);
  const rows = [
    ['side', 'build+proofs', 'peak RSS', 'baseline RSS', 'peak - baseline', 'proofs ok', 'root'],
    ...sides.map((s) => [
      s.mode === 'fast' ? 'RewardTree' : 'StandardMerkleTree',
      ms(s.ms),
      mib(s.maxRssKiB),
      mib(s.baselineRssKiB),
      mib(s.maxRssKiB - s.baselineRssKiB),
      String(s.proofsChecked),
      s.root,
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  }
  if (!comparison) return;
  const { speedup, memory, memoryAboveBaseline, rootsEqual, targetsChecked } = comparison;
  const verdict = (ok: boolean) => (!targetsChecked ? 'not checked below 1,000,000 leaves' : ok ? 'ok' : 'MISSED');
  console.log('');
  const speedupTarget = `target >= ${TARGET_SPEEDUP}: ${verdict(speedup >= TARGET_SPEEDUP)}`;
  const memoryTarget = `target <= ${TARGET_MEMORY}: ${verdict(memory <= TARGET_MEMORY)}`;
  console.log(`speedup  oz_ms / fast_ms       ${speedup.toFixed(1)}x   (${speedupTarget})`);
  console.log(`memory   fast_peak / oz_peak   ${memory.toFixed(3)}   (${memoryTarget})`);
  console.log(`         above baseline        ${memoryAboveBaseline.toFixed(3)}`);
  console.log(`roots    ${rootsEqual ? 'equal' : 'DIFFER'}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      leaves: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '1' },
      proofs: { type: 'string', default: '1000' },
      'skip-baseline': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const options: Options = { leaves: Number(values.leaves), seed: Number(values.seed), proofs: Number(values.proofs) };
  if (!Number.isInteger(options.leaves) || options.leaves < 1) throw new Error(`--leaves must be a positive integer`);
  options.proofs = Math.min(options.proofs, options.leaves);

  console.error(`fast side: RewardTree.of on ${options.leaves} leaves...`);
  const sides = [await runSide('fast', options)];
  if (!values['skip-baseline']) {
    console.error(`baseline: StandardMerkleTree.of on ${options.leaves} leaves (about 2 minutes per million)...`);
    sides.push(await runSide('oz', options));
  }
  const [fast, oz] = sides;
  const comparison = oz ? compare(fast!, oz) : undefined;
  const proofsOk = sides.every((s) => s.proofsChecked === options.proofs);

  if (values.json) console.log(JSON.stringify({ ...options, fast, oz, ...comparison, proofsOk }));
  else printTable(options, sides, comparison);

  if (!proofsOk) console.error('a fetched proof did not verify');
  if ((comparison && !comparison.pass) || !proofsOk) process.exitCode = 1;
}

await main();
