/**
 * One side of bench/epoch-close.ts, run in its own process so that its peak memory is its own:
 *
 *   node --expose-gc --import tsx bench/lib/epoch-worker.ts --mode M --devices N --seed S --proofs P
 *
 * Every mode first builds its input from the seed (bench/lib/epoch-inputs.ts), untimed, drops
 * what it does not pass on, runs a GC (with --expose-gc) and notes the resident memory as its
 * baseline; then it starts the clock.
 *
 * The headline (what the ratios and the exit code are about):
 * - fast: the chain that starts from the verifier's scores, as computeEpoch runs it. Input: the
 *   reward columns (owners, per-device owner index and score, usage, prior amounts).
 *   Timed: computeRewardColumns → RewardTree.fromColumns(cumulative) → P × tree.proofFor.
 * - oz: the same cumulative leaves (computeRewards on the same epoch as objects, before the clock) as
 *   [account, amount] tuples. Timed: StandardMerkleTree.of(values, ['address', 'uint256']) →
 *   the same P proofs with getProof (leaf indexes looked up before the clock).
 *
 * The full close (its own targets, bench/epoch-close.ts):
 * - full: the closer's path on the epoch's tables (N device snapshots, 3 challenges each, the
 *   accepted reports): computeEpochTables with the uptime verifier while a second thread streams
 *   the inputs to the artifact file, then the result; the artifact's sha256; then P proofs.
 * - verify: `epoch verify`'s own work on the file full wrote: read as a stream with the schema,
 *   recompute, compare byte for byte.
 *
 * The proofs are checked after the clock stops. Prints one JSON line (EpochWorkerResult).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, fsyncSync, openSync, readSync } from 'node:fs';
import { peakRssKiB, settleAndResetPeak } from './memory.ts';
import { parseArgs } from 'node:util';
import type { RewardTree as RewardTreeType } from '../../protocol/src/merkle.ts';
import { planEpoch, releasePlan, rewardColumnsFromPlan, rewardInputsFromPlan, tablesFromPlan, type EpochPlan } from './epoch-inputs.ts';

export const MODES = ['fast', 'oz', 'full', 'verify'] as const;
export type Mode = (typeof MODES)[number];

export type EpochWorkerResult = {
  mode: Mode;
  devices: number;
  leaves: number;
  /** The timed part, in ms (when it failed: how long it ran before it threw). */
  ms: number;
  root: string | null;
  /** Peak resident memory from the baseline to the end of the timed part (VmHWM, reset at the baseline). */
  maxRssKiB: number;
  baselineRssKiB: number;
  /** Peak resident memory while the input was built, before the baseline (not in any ratio). */
  inputPeakRssKiB: number;
  proofs: number;
  proofsChecked: number;
  /** sha256 over every fetched (account, amount, proof): equal on both sides iff the proofs are. */
  proofsDigest: string;
  /** The timed part's steps (ms), measured with no pause between them. */
  steps?: Record<string, number>;
  /** full: the artifact written (bytes, sha256, then the time fsync took); verify: the artifact read. */
  artifact?: { bytes: number; hash: string; fsyncMs?: number; direct?: boolean };
  /** What the epoch held (full: the verifier's side too). */
  epoch?: {
    challenges?: number;
    reports?: number;
    rejections?: number;
    scored?: number;
    /** fast: prior accounts, owners paid this epoch, devices scored 0. */
    prior?: number;
    earners?: number;
    zeroScores?: number;
    paid?: string;
    cumulativeTotal?: string;
  };
  /** The timed code threw (the message and where); no root, nothing to compare. */
  error?: string;
};

type Hex = `0x${string}`;
type Claim = { account: string; amount: bigint; proof: string[] };

const maxRssKiB = peakRssKiB;
const _mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function digestClaims(claims: readonly Claim[]): string {
  const h = createHash('sha256');
  for (const c of claims) h.update(`${c.account.toLowerCase()} ${c.amount} ${c.proof.join(',')}\n`);
  return `0x${h.digest('hex')}`;
}

/** Settles the input's garbage and returns the baseline, as every side takes it (bench/lib/memory.ts). */
const baseline = settleAndResetPeak;

/** A thrown error as one line: name, message, where in the protocol code, and when. */
function describeError(err: unknown, what: string, afterMs: number): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const at = e.stack?.split('\n').find((l) => l.includes('protocol/src') || l.includes('networks/')) ?? '';
  return `${e.name}: ${e.message} (${what}, after ${afterMs} ms)${at ? ` ${at.trim()}` : ''}`;
}

/** The result of a side that threw: no root, no proofs, and the error (reported, not thrown). */
function failedResult(
  mode: Mode,
  devices: number,
  proofs: number,
  base: Awaited<ReturnType<typeof baseline>>,
  err: unknown,
  what: string,
  afterMs: number,
  extra: Partial<EpochWorkerResult> = {},
): EpochWorkerResult {
  return {
    mode,
    devices,
    leaves: 0,
    ms: afterMs,
    root: null,
    maxRssKiB: maxRssKiB(),
    ...base,
    proofs,
    proofsChecked: 0,
    proofsDigest: '',
    ...extra,
    error: describeError(err, what, afterMs),
  };
}

/**
 * The headline's fast side: from the verifier's scores to proofs ready, on the code path
 * computeEpoch runs. The input is what computeRewardColumns takes (see rewardColumnsFromPlan);
 * the clock runs over computeRewardColumns, RewardTree.fromColumns on its cumulative leaves and
 * P proofs fetched by account.
 */
async function fast(plan: EpochPlan): Promise<EpochWorkerResult> {
  const { computeRewardColumns } = await import('../../protocol/src/rewards.ts');
  const { RewardTree, verifyRewardProof } = await import('../../protocol/src/merkle.ts');
  const input = rewardColumnsFromPlan(plan);
  const accounts = plan.proofAccounts;
  const devices = plan.n;
  const zeroScores = input.networks[0]!.scores.reduce((z, s) => z + (s === 0 ? 1 : 0), 0);
  releasePlan(plan); // keep only what computeRewardColumns is given
  plan.owners = [];
  const base = await baseline();
  const failed = (err: unknown, what: string, afterMs: number) => failedResult('fast', devices, accounts.length, base, err, what, afterMs);

  const started = performance.now();
  let rewards: ReturnType<typeof computeRewardColumns>;
  let tree: RewardTreeType; // the import above is a type only: each mode loads only its own code
  let fetched: ({ amount: bigint; proof: Hex[] } | undefined)[];
  let rewarded = started;
  let built = started;
  try {
    rewards = computeRewardColumns(input);
    rewarded = performance.now();
    tree = RewardTree.fromColumns(rewards.cumulative.accounts, rewards.cumulative.amounts);
    built = performance.now();
    fetched = accounts.map((account) => tree.proofFor(account));
  } catch (err) {
    const afterMs = Math.round(performance.now() - started);
    return failed(err, built > started ? 'proofFor' : rewarded > started ? 'RewardTree.fromColumns' : 'computeRewardColumns', afterMs);
  }
  const ended = performance.now();
  const peak = maxRssKiB();

  const claims: Claim[] = [];
  let checked = 0;
  fetched.forEach((c, k) => {
    if (!c) return;
    const account = accounts[k]!;
    claims.push({ account, amount: c.amount, proof: c.proof });
    if (verifyRewardProof(tree.root, { account, amount: c.amount }, c.proof)) checked++;
  });
  const earners = rewards.earned.reduce((e, amount) => e + (amount !== 0n ? 1 : 0), 0);
  return {
    mode: 'fast',
    devices,
    leaves: tree.length,
    ms: Math.round(ended - started),
    root: tree.root,
    maxRssKiB: peak,
    ...base,
    proofs: accounts.length,
    proofsChecked: checked,
    proofsDigest: digestClaims(claims),
    steps: { computeRewards: Math.round(rewarded - started), rewardTree: Math.round(built - rewarded), proofs: Math.round(ended - built) },
    epoch: {
      scored: devices,
      prior: input.prior.amounts.length,
      earners,
      zeroScores,
      paid: rewards.paid.toString(),
      cumulativeTotal: rewards.total.toString(),
    },
  };
}

/**
 * The headline's baseline: StandardMerkleTree.of over the same cumulative leaves (computed
 * before the clock with computeRewards on the same input; the rest of its output is garbage by
 * the time the baseline is taken), then getProof for the same P accounts.
 */
async function oz(plan: EpochPlan): Promise<EpochWorkerResult> {
  const { StandardMerkleTree } = await import('@openzeppelin/merkle-tree');
  const { computeRewards } = await import('../../protocol/src/rewards.ts');
  const ENCODING = ['address', 'uint256'];
  const leaves = () => {
    const input = rewardInputsFromPlan(plan);
    return computeRewards(input.networks, input.prior).cumulative.map((c): [string, bigint] => [c.account, c.amount]);
  };
  const values = leaves();
  const wanted = new Map<string, number>(plan.proofAccounts.map((a) => [a.toLowerCase(), -1]));
  values.forEach(([account], i) => {
    if (wanted.has(account)) wanted.set(account, i);
  });
  const accounts = plan.proofAccounts;
  const indexes = accounts.map((a) => wanted.get(a.toLowerCase())!);
  const devices = plan.n;
  releasePlan(plan);
  const base = await baseline();

  const started = performance.now();
  const tree = StandardMerkleTree.of(values, ENCODING);
  const fetched = indexes.map((i) => (i >= 0 ? tree.getProof(i) : null));
  const ms = performance.now() - started;
  const peak = maxRssKiB();

  const claims: Claim[] = [];
  let checked = 0;
  fetched.forEach((proof, k) => {
    if (!proof) return;
    const value = values[indexes[k]!]!;
    claims.push({ account: accounts[k]!, amount: value[1], proof });
    if (StandardMerkleTree.verify(tree.root, ENCODING, value, proof)) checked++;
  });
  return {
    mode: 'oz',
    devices,
    leaves: values.length,
    ms: Math.round(ms),
    root: tree.root,
    maxRssKiB: peak,
    ...base,
    proofs: accounts.length,
    proofsChecked: checked,
    proofsDigest: digestClaims(claims),
  };
}

/**
 * The full close, as the oracle's closer runs it after reading its database: computeEpochTables
 * with the uptime verifier on the epoch's tables (N device snapshots, 3 challenges each, the
 * accepted reports, usage, prior amounts), then the artifact written as a stream to `file` with
 * its sha256, then P proofs. Signatures are not re-checked (ingest checks each as it arrives, and
 * the closer trusts it, as here); the reports carry a dummy signature.
 */
async function full(plan: EpochPlan, file: string): Promise<EpochWorkerResult> {
  const { computeEpochTables } = await import('../../protocol/src/epoch-close.ts');
  const { writeArtifactFile } = await import('../../oracle/src/artifact-file.ts');
  const { verifyRewardProof } = await import('../../protocol/src/merkle.ts');
  const { uptimeNetwork } = await import('../../networks/uptime/src/index.ts');
  const plugins = { uptime: uptimeNetwork };
  const tables = tablesFromPlan(plan, plugins);
  const accounts = plan.proofAccounts;
  const net = tables.networks[0]!;
  const shape = { challenges: net.oracleInputs.length, reports: net.reports.length };
  const devices = plan.n;
  releasePlan(plan); // keep only the tables
  plan.owners = [];
  // Earlier runs' files still being written back would throttle this one's writes.
  spawnSync('sync');
  const base = await baseline();

  const started = performance.now();
  let computed = started;
  let written = started;
  let outcome: ReturnType<typeof computeEpochTables>;
  let artifact: { bytes: number; hash: string; fsyncMs: number; direct: boolean };
  try {
    // The closer's own writer (oracle/src/artifact-file.ts): the inputs encoded, hashed and written
    // by a second thread while this one computes, then the result. The closer syncs the file
    // too; that is timed apart, below.
    const out = writeArtifactFile(
      file,
      tables,
      () => {
        const o = computeEpochTables(tables, plugins, { checkSignatures: false });
        computed = performance.now();
        return o;
      },
      { sync: false },
    );
    outcome = out.outcome;
    written = performance.now();
    const fd = openSync(file, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    artifact = { bytes: out.size, hash: out.hash, fsyncMs: Math.round(performance.now() - written), direct: out.direct };
  } catch (err) {
    const afterMs = Math.round(performance.now() - started);
    return failedResult('full', devices, accounts.length, base, err, computed > started ? 'writeArtifact' : 'computeEpochTables', afterMs, {
      epoch: shape,
    });
  }
  const tree = outcome.tree;
  const proofsFrom = performance.now();
  const fetched = accounts.map((account) => tree?.proofFor(account));
  const ended = written + (performance.now() - proofsFrom); // the fsync is reported apart
  const peak = maxRssKiB();

  const claims: Claim[] = [];
  let checked = 0;
  fetched.forEach((c, k) => {
    if (!c || !tree) return;
    const account = accounts[k]!;
    claims.push({ account, amount: c.amount, proof: c.proof });
    if (verifyRewardProof(tree.root, { account, amount: c.amount }, c.proof)) checked++;
  });
  const n = outcome.networks[0]!;
  return {
    mode: 'full',
    devices,
    leaves: tree?.length ?? 0,
    ms: Math.round(ended - started),
    root: outcome.root,
    maxRssKiB: peak,
    ...base,
    proofs: accounts.length,
    proofsChecked: checked,
    proofsDigest: digestClaims(claims),
    steps: { computeEpoch: Math.round(computed - started), artifact: Math.round(written - computed), proofs: Math.round(ended - written) },
    artifact,
    epoch: {
      ...shape,
      rejections: n.rejections.reduce((sum, t) => sum + t.length, 0),
      scored: n.scores.length,
      paid: outcome.paid.toString(),
      cumulativeTotal: outcome.total.toString(),
    },
  };
}

/**
 * `epoch verify`'s own work on the artifact `full` wrote: read it as a stream into tables (every
 * row checked against the artifact schema), recompute, and compare the recomputed artifact with
 * its bytes, section by section. The chain checks (a few RPC calls) are not part of it, and nor is
 * the re-check of the reports' signatures: the benchmark's reports carry a dummy one.
 */
async function verify(plan: EpochPlan, file: string): Promise<EpochWorkerResult> {
  const { computeEpochTables } = await import('../../protocol/src/epoch-close.ts');
  const { readArtifact } = await import('../../protocol/src/artifact-reader.ts');
  const { compareArtifact } = await import('../../protocol/src/artifact-compare.ts');
  const { uptimeNetwork } = await import('../../networks/uptime/src/index.ts');
  const plugins = { uptime: uptimeNetwork };
  const devices = plan.n;
  releasePlan(plan);
  plan.owners = [];
  const base = await baseline();

  const started = performance.now();
  try {
    const read = await readArtifact(createReadStream(file, { highWaterMark: 1 << 20 }), plugins);
    const readMs = performance.now();
    const outcome = computeEpochTables(read.tables, plugins, { checkSignatures: false });
    const computed = performance.now();
    const fd = openSync(file, 'r');
    let cmp: ReturnType<typeof compareArtifact>;
    try {
      cmp = compareArtifact(
        (offset, length) => {
          const buf = Buffer.allocUnsafe(length);
          return buf.subarray(0, readSync(fd, buf, 0, length, offset));
        },
        read.size,
        read.resultOffset,
        read.tables,
        outcome,
      );
    } finally {
      closeSync(fd);
    }
    const ended = performance.now();
    if (!cmp.inputs.equal || !cmp.result.equal)
      throw new Error(`verify found differences: ${[...cmp.inputs.differences, ...cmp.result.differences].slice(0, 3).join('; ')}`);
    return {
      mode: 'verify',
      devices,
      leaves: outcome.tree?.length ?? 0,
      ms: Math.round(ended - started),
      root: outcome.root,
      maxRssKiB: maxRssKiB(),
      ...base,
      proofs: 0,
      proofsChecked: 0,
      proofsDigest: '',
      steps: { read: Math.round(readMs - started), computeEpoch: Math.round(computed - readMs), compare: Math.round(ended - computed) },
      artifact: { bytes: read.size, hash: read.hash },
    };
  } catch (err) {
    return failedResult('verify', devices, 0, base, err, 'verify', Math.round(performance.now() - started));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      devices: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '1' },
      proofs: { type: 'string', default: '1000' },
      artifact: { type: 'string' },
    },
  });
  const mode = values.mode as Mode;
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}, got ${values.mode}`);
  const plan = planEpoch(Number(values.devices), Number(values.seed), Number(values.proofs));
  const file = values.artifact ?? '';
  if ((mode === 'full' || mode === 'verify') && !file) throw new Error(`--mode ${mode} needs --artifact <file>`);
  const result = await { fast, oz, full: (p: EpochPlan) => full(p, file), verify: (p: EpochPlan) => verify(p, file) }[mode](plan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
