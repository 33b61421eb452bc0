/**
 * Benchmark: the epoch close at 1,000,000 devices, from the verifier's scores to proofs ready,
 * against @openzeppelin/merkle-tree's StandardMerkleTree.of on the same cumulative leaves.
 *
 *   node --import tsx bench/epoch-close.ts [--devices N] [--seed S] [--proofs P] [--skip-baseline] [--skip-full] [--json]
 *
 * The issue's target: "Epoch close with 1,000,000 devices: scores → rewards → tree → proofs
 * ready, against StandardMerkleTree.of on the same leaves in the same run. Target ≥ 30× faster
 * with an identical root, at most a quarter of its memory." Read as the chain that starts from
 * the verifier's scores.
 *
 * Headline (the ratios, the targets and the exit code). Each side runs in its own child process
 * (bench/lib/epoch-worker.ts, with --expose-gc), one after the other, so that each peak RSS is
 * its own and neither takes CPU from the other. Each builds its input from the seed first
 * (bench/lib/epoch-inputs.ts), untimed, runs a GC, notes its resident memory as its baseline,
 * then starts the clock:
 *
 * - fast: the code path computeEpoch runs. Input: the reward columns (N/2 owners as 20-byte
 *   accounts; per device its owner index and its score, parts per million as the uptime
 *   verifier gives them, answers in time / 3 challenges, a little over a quarter of them 0;
 *   usage on 10% of devices) and the prior cumulative amounts of N/4 accounts as columns.
 *   Timed: computeRewardColumns → RewardTree.fromColumns(cumulative) → P (default 1,000) ×
 *   tree.proofFor(account).
 * - baseline: the same cumulative leaves, computed before the clock with computeRewards, the
 *   object API, on the same epoch as N DeviceActivity objects (so equal roots also check the
 *   column path against the object path), as [account, amount] tuples. Timed:
 *   StandardMerkleTree.of(values, ['address', 'uint256']) → getProof for the same P accounts
 *   (leaf indexes looked up before the clock).
 *
 * Peak RSS is the peak resident memory of the timed part (bench/lib/memory.ts: after building
 * its input each side collects garbage, waits for the resident memory to settle and resets the
 * kernel's high-water mark; the peak is read when the clock stops). It includes what was
 * resident when the clock started (the process and the side's input), not the peak of building
 * the input. speedup = oz_ms / fast_ms (target ≥ 30), memory = fast peak / oz peak (target
 * ≤ 0.25); the same ratio over what each side added above its baseline is reported, not
 * checked. Both targets are checked from 1,000,000 devices up.
 *
 * Informational (no ratio, no effect on the exit code; --skip-full skips it): the whole
 * computeEpoch(inputs, { uptime }, { checkSignatures: false }) on the full epoch inputs (N
 * device snapshots, 3 challenges each, ~1.5 N accepted reports, some late or sent twice), which
 * includes the uptime verifier: its time and peak, then its steps one by one (phases mode: time,
 * GC time, memory after each). Signatures are not checked there: ingest checks each report's
 * P-256 signature as it arrives (bench/ingest.ts), and every report carries one dummy
 * signature. If it fails, the error is printed and the run goes on.
 *
 * Exits 1 if the headline's fast side fails, if the roots or the fetched proofs differ, if a
 * proof does not verify, or if a checked target is missed. --json prints one JSON object.
 */
import { runWorker } from './lib/child.ts';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EpochWorkerResult, Mode, Phase } from './lib/epoch-worker.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = fileURLToPath(new URL('./lib/epoch-worker.ts', import.meta.url));
const TARGET_SPEEDUP = 30;
const TARGET_MEMORY = 0.25;
const TARGET_DEVICES = 1_000_000;

type Options = { devices: number; seed: number; proofs: number };

/** Runs one mode in a fresh process and returns the JSON line it prints. */
function runSide(mode: Mode, options: Options): Promise<EpochWorkerResult> {
  return runWorker<EpochWorkerResult>(
    WORKER,
    ['--mode', mode, '--devices', String(options.devices), '--seed', String(options.seed), '--proofs', String(options.proofs)],
    `${mode} side`,
    ROOT,
  );
}

type Comparison = {
  speedup: number;
  memory: number;
  /** The same ratio over what each side added above its own input. */
  memoryAboveBaseline: number;
  rootsEqual: boolean;
  proofsEqual: boolean;
  /** Whether the device count is one the targets are set for. */
  targetsChecked: boolean;
  speedupMet: boolean;
  memoryMet: boolean;
  pass: boolean;
};

function compare(fast: EpochWorkerResult, oz: EpochWorkerResult): Comparison {
  const speedup = oz.ms / fast.ms;
  const memory = fast.maxRssKiB / oz.maxRssKiB;
  const memoryAboveBaseline = (fast.maxRssKiB - fast.baselineRssKiB) / (oz.maxRssKiB - oz.baselineRssKiB);
  const rootsEqual = fast.root !== null && fast.root === oz.root;
  const proofsEqual = fast.proofsDigest !== '' && fast.proofsDigest === oz.proofsDigest;
  const targetsChecked = fast.devices >= TARGET_DEVICES;
  const speedupMet = speedup >= TARGET_SPEEDUP;
  const memoryMet = memory <= TARGET_MEMORY;
  const pass = rootsEqual && proofsEqual && ((speedupMet && memoryMet) || !targetsChecked);
  return { speedup, memory, memoryAboveBaseline, rootsEqual, proofsEqual, targetsChecked, speedupMet, memoryMet, pass };
}

/** The informational section: the whole computeEpoch, verifier included. Never fails the run. */
type Informational = {
  full?: EpochWorkerResult;
  phases?: EpochWorkerResult;
  /** A side that could not report (its process failed), or whose timed part threw. */
  errors: string[];
  /** Whether each side that got a root got the headline's (the inputs agree). */
  sameRootAsHeadline: { full: boolean | null; phases: boolean | null };
};

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const ms = (value: number) => `${value.toLocaleString('en-US')} ms`;
const count = (value: number) => value.toLocaleString('en-US');

function table(rows: string[][], leftColumns = 1): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows)
    console.log(row.map((cell, c) => (c < leftColumns ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

function sideRows(sides: { label: string; side: EpochWorkerResult }[]): string[][] {
  return [
    ['side', 'time', 'peak RSS', 'baseline RSS', 'peak - baseline', 'leaves', 'proofs ok', 'root'],
    ...sides.map(({ label, side: s }) => [
      label,
      s.error ? `FAILED after ${ms(s.ms)}` : ms(s.ms),
      mib(s.maxRssKiB),
      mib(s.baselineRssKiB),
      mib(s.maxRssKiB - s.baselineRssKiB),
      count(s.leaves),
      `${s.proofsChecked}/${s.proofs}`,
      s.root ?? '(none)',
    ]),
  ];
}

function peakNotes(sides: EpochWorkerResult[]): void {
  for (const s of sides) {
    console.log(`(${s.mode}: building the input, before the clock, peaked at ${mib(s.inputPeakRssKiB)}; not counted)`);
  }
}

function phaseTable(title: string, side: EpochWorkerResult): void {
  const total = side.phases!.reduce((s, p) => s + p.ms, 0);
  console.log(`\n${title}: ${ms(total)} in all, baseline RSS ${mib(side.baselineRssKiB)}`);
  table([
    ['step', 'time', 'share', 'of it GC (approx.)', 'heap after', 'RSS after', 'peak RSS so far'],
    ...side.phases!.map((p: Phase) => [
      p.name,
      ms(p.ms),
      `${((100 * p.ms) / Math.max(1, total)).toFixed(1)}%`,
      ms(p.gcMs),
      `${p.heapUsedMiB.toFixed(1)} MiB`,
      `${p.rssMiB.toFixed(1)} MiB`,
      `${p.maxRssMiB.toFixed(1)} MiB`,
    ]),
  ]);
}

type Report = {
  options: Options;
  fast: EpochWorkerResult;
  oz?: EpochWorkerResult;
  comparison?: Comparison;
  proofsOk: boolean;
  informational?: Informational;
};

function printHeadline(r: Report): void {
  const { options, fast, oz, comparison } = r;
  const P = options.proofs;
  console.log(`\nepoch close, ${count(options.devices)} devices (seed ${options.seed}): scores → rewards → tree → ${P} proofs ready`);
  console.log(`  fast side:  computeRewardColumns(input) → RewardTree.fromColumns(cumulative) → ${P} × tree.proofFor(account)`);
  const e = fast.epoch;
  if (e) {
    console.log(
      `              input: reward columns for ${count(options.devices)} devices of ${count(Math.floor(options.devices / 2))} owners ` +
        `(${count(e.zeroScores ?? 0)} scored 0), prior amounts of ${count(e.prior ?? 0)} accounts; ${count(e.earners ?? 0)} owners paid`,
    );
  }
  console.log(
    `  baseline:   StandardMerkleTree.of(values, ['address', 'uint256']) on the same cumulative leaves (from computeRewards on objects) → ${P} × getProof`,
  );
  console.log('');
  table(sideRows([{ label: 'scores → proofs', side: fast }, ...(oz ? [{ label: 'StandardMerkleTree', side: oz }] : [])]));
  peakNotes([fast, ...(oz ? [oz] : [])]);
  if (fast.steps) {
    const { computeRewards, rewardTree, proofs } = fast.steps;
    console.log(
      `fast side's time: computeRewardColumns ${ms(computeRewards)} + RewardTree.fromColumns ${ms(rewardTree)} + ${P} proofs ${ms(proofs)}`,
    );
  }
  if (fast.error) console.log(`\nthe fast side FAILED: ${fast.error}`);
  if (comparison) {
    const { speedup, memory, memoryAboveBaseline, rootsEqual, proofsEqual, targetsChecked } = comparison;
    const verdict = (ok: boolean) => (!targetsChecked ? `not checked below ${count(TARGET_DEVICES)} devices` : ok ? 'ok' : 'MISSED');
    console.log('');
    console.log(
      `speedup  oz_ms / fast_ms             ${speedup.toFixed(2)}x   (target >= ${TARGET_SPEEDUP}: ${verdict(comparison.speedupMet)})`,
    );
    console.log(
      `memory   fast_peak / oz_peak         ${memory.toFixed(3)}   (target <= ${TARGET_MEMORY}: ${verdict(comparison.memoryMet)})`,
    );
    console.log(`         above each side's baseline  ${memoryAboveBaseline.toFixed(3)}   (reported, not checked)`);
    console.log(`roots    ${rootsEqual ? 'equal' : 'DIFFER'} · proofs ${proofsEqual ? 'equal' : 'DIFFER'}`);
  }
}

function printInformational(options: Options, info: Informational): void {
  console.log('\n--- informational, not in the ratios or the exit code ---');
  console.log(`the whole close: computeEpoch(inputs, { uptime }, { checkSignatures: false }) on ${count(options.devices)} devices,`);
  console.log('INCLUDING the uptime verifier (scoring 3 challenges per device from the accepted reports), then');
  console.log(`${options.proofs} × tree.proofFor; reported apart from the headline, which starts from the verifier's scores`);
  const e = info.full?.epoch ?? info.phases?.epoch;
  if (e)
    console.log(
      `inputs: ${count(e.challenges ?? 0)} challenges, ${count(e.reports ?? 0)} reports${e.rejections !== undefined ? ` → ${count(e.rejections)} rejections` : ''}`,
    );
  if (info.full) {
    console.log('');
    table(sideRows([{ label: 'computeEpoch', side: info.full }]));
    peakNotes([info.full]);
  }
  for (const error of info.errors) console.log(`FAILED: ${error}`);
  const same = (v: boolean | null, what: string) =>
    v === null ? '' : v ? `${what}: same root as the headline` : `${what}: a DIFFERENT root from the headline's (the inputs disagree)`;
  const roots = [same(info.sameRootAsHeadline.full, 'computeEpoch'), same(info.sameRootAsHeadline.phases, 'phases')].filter(Boolean);
  if (roots.length) console.log(roots.join(' · '));
  if (info.phases?.phases) phaseTable("computeEpoch's steps one by one (phases mode, its own process)", info.phases);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: String(TARGET_DEVICES) },
      seed: { type: 'string', default: '1' },
      proofs: { type: 'string', default: '1000' },
      'skip-baseline': { type: 'boolean', default: false },
      'skip-full': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const options: Options = { devices: Number(values.devices), seed: Number(values.seed), proofs: Number(values.proofs) };
  if (!Number.isInteger(options.devices) || options.devices < 2) throw new Error('--devices must be an integer of at least 2');
  if (!Number.isInteger(options.proofs) || options.proofs < 0) throw new Error('--proofs must be a non-negative integer');

  const n = count(options.devices);
  console.error(`fast side: computeRewardColumns → RewardTree.fromColumns → ${options.proofs} proofs for ${n} devices...`);
  const fast = await runSide('fast', options);
  let oz: EpochWorkerResult | undefined;
  if (!values['skip-baseline']) {
    console.error(`baseline: StandardMerkleTree.of on the same leaves (about 2 minutes per million leaves)...`);
    oz = await runSide('oz', options);
  }

  let informational: Informational | undefined;
  if (!values['skip-full']) {
    informational = { errors: [], sameRootAsHeadline: { full: null, phases: null } };
    const headlineRoot = fast.root ?? oz?.root ?? null;
    for (const mode of ['full', 'phases'] as const) {
      console.error(
        `informational: ${mode === 'full' ? 'computeEpoch (verifier included)' : "computeEpoch's steps one by one"} for ${n} devices...`,
      );
      try {
        const side = await runSide(mode, options);
        informational[mode] = side;
        if (side.error) informational.errors.push(`${mode}: ${side.error}`);
        if (side.root && headlineRoot) informational.sameRootAsHeadline[mode] = side.root === headlineRoot;
      } catch (err) {
        informational.errors.push(`${mode}: ${(err as Error).message}`);
      }
    }
  }

  const comparison = oz && !fast.error ? compare(fast, oz) : undefined;
  const proofsOk = [fast, oz].every((s) => !s || s.error || s.proofsChecked === s.proofs);
  const report: Report = { options, fast, oz, comparison, proofsOk, informational };

  if (values.json) {
    const failed = fast.error ? { rootsEqual: false, proofsEqual: false, pass: false } : {};
    const target = { speedup: TARGET_SPEEDUP, memory: TARGET_MEMORY, devices: TARGET_DEVICES };
    console.log(JSON.stringify({ ...options, target, fast, oz, ...comparison, ...failed, proofsOk, informational }));
  } else {
    printHeadline(report);
    if (informational) printInformational(options, informational);
  }

  if (!proofsOk) console.error('a fetched proof did not verify');
  if (fast.error || (comparison && !comparison.pass) || !proofsOk) process.exitCode = 1;
}

await main();
