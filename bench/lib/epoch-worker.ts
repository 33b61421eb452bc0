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
 * Informational (reported apart, in no ratio):
 * - full: computeEpoch(inputs, { uptime }, { checkSignatures: false }) on the full epoch inputs
 *   (N device snapshots, 3 challenges each, the accepted reports): the uptime verifier's scores,
 *   computeRewardColumns, RewardTree.fromColumns, the result object; then P × tree.proofFor.
 * - phases: computeEpoch's steps one by one, each with its time, its GC time and the memory
 *   after it: where the full close spends its time (the verifier's share above all).
 *
 * The proofs are checked after the clock stops. Prints one JSON line (EpochWorkerResult).
 */
import { createHash } from 'node:crypto';
import { peakRssKiB, settleAndResetPeak } from './memory.ts';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { RewardTree as RewardTreeType } from '../../protocol/src/merkle.ts';
import { materialise, planEpoch, releasePlan, rewardColumnsFromPlan, rewardInputsFromPlan, type EpochPlan } from './epoch-inputs.ts';

/** One step of the phases mode: its time (of which GC, as V8 reports it), then the memory after it. */
export type Phase = { name: string; ms: number; gcMs: number; heapUsedMiB: number; rssMiB: number; maxRssMiB: number };

export const MODES = ['fast', 'oz', 'full', 'phases'] as const;
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
  /** fast: the timed chain's steps (ms), measured with no pause between them. */
  steps?: { computeRewards: number; rewardTree: number; proofs: number };
  /** What the epoch held (full and phases: the verifier's side too). */
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
  phases?: Phase[];
  /** The timed code threw (the message and where); no root, nothing to compare. */
  error?: string;
};

type Hex = `0x${string}`;
type Claim = { account: string; amount: bigint; proof: string[] };

const maxRssKiB = peakRssKiB;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function digestClaims(claims: readonly Claim[]): string {
  const h = createHash('sha256');
  for (const c of claims) h.update(`${c.account.toLowerCase()} ${c.amount} ${c.proof.join(',')}\n`);
  return `0x${h.digest('hex')}`;
}

/**
 * A clock for steps: mark(name) closes the step that began at the previous mark. GC time comes
 * from a PerformanceObserver, whose entries arrive on a later turn of the event loop, so mark
 * waits for two turns before it reads them, outside any step's time.
 */
function phaseClock(): { list: Phase[]; mark: (name: string) => Promise<void>; total: () => number } {
  const list: Phase[] = [];
  let gcMs = 0;
  const observer = new PerformanceObserver((entries) => {
    for (const e of entries.getEntries()) gcMs += e.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  let last = performance.now();
  return {
    list,
    async mark(name) {
      const ms = performance.now() - last;
      const m = process.memoryUsage();
      const maxRss = maxRssKiB();
      const gcBefore = list.reduce((sum, p) => sum + p.gcMs, 0);
      await turn();
      await turn();
      list.push({
        name,
        ms: Math.round(ms),
        gcMs: Math.round(gcMs - gcBefore),
        heapUsedMiB: mib(m.heapUsed),
        rssMiB: mib(m.rss),
        maxRssMiB: mib(maxRss * 1024),
      });
      last = performance.now();
    },
    total: () => {
      observer.disconnect();
      return list.reduce((sum, p) => sum + p.ms, 0);
    },
  };
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

/** Informational: the whole close, computeEpoch with the uptime verifier, on the full inputs. */
async function full(plan: EpochPlan): Promise<EpochWorkerResult> {
  const { computeEpoch } = await import('../../protocol/src/epoch-close.ts');
  const { verifyRewardProof } = await import('../../protocol/src/merkle.ts');
  const { uptimeNetwork } = await import('../../networks/uptime/src/index.ts');
  const inputs = materialise(plan);
  const accounts = plan.proofAccounts;
  const net = inputs.networks[0]!;
  const shape = { challenges: net.oracleInputs.length, reports: net.reports.length };
  const devices = plan.n;
  releasePlan(plan); // keep only what computeEpoch is given
  const base = await baseline();

  const started = performance.now();
  let epoch: ReturnType<typeof computeEpoch>;
  try {
    epoch = computeEpoch(inputs, { uptime: uptimeNetwork }, { checkSignatures: false });
  } catch (err) {
    // Reported, not thrown: the orchestrator prints it and goes on.
    const afterMs = Math.round(performance.now() - started);
    return failedResult('full', devices, accounts.length, base, err, 'computeEpoch', afterMs, { epoch: shape });
  }
  const { result, tree } = epoch;
  const fetched = accounts.map((account) => tree?.proofFor(account));
  const ms = performance.now() - started;
  const peak = maxRssKiB();

  const claims: Claim[] = [];
  let checked = 0;
  fetched.forEach((c, k) => {
    if (!c || !tree) return;
    const account = accounts[k]!;
    claims.push({ account, amount: c.amount, proof: c.proof });
    if (verifyRewardProof(tree.root, { account, amount: c.amount }, c.proof)) checked++;
  });
  const n = result.networks[0]!;
  return {
    mode: 'full',
    devices,
    leaves: tree?.length ?? 0,
    ms: Math.round(ms),
    root: result.root,
    maxRssKiB: peak,
    ...base,
    proofs: accounts.length,
    proofsChecked: result.root === tree?.root ? checked : 0,
    proofsDigest: digestClaims(claims),
    epoch: { ...shape, rejections: n.rejections.length, scored: n.scores.length, paid: result.paid, cumulativeTotal: result.total },
  };
}

/**
 * Informational: computeEpoch's body (protocol/src/epoch-close.ts) step for step, with a clock
 * on each step; its root is checked against the other sides' by the orchestrator, so a copy
 * that drifts from computeEpoch shows.
 */
async function phases(plan: EpochPlan): Promise<EpochWorkerResult> {
  const { AccountTable, computeRewardColumns, forEachDeviceReward, forEachLeaf, networkColumns, priorColumns } = await import(
    '../../protocol/src/rewards.ts'
  );
  const { RewardTree } = await import('../../protocol/src/merkle.ts');
  const { uptimeNetwork } = await import('../../networks/uptime/src/index.ts');
  const inputs = materialise(plan);
  const accounts = plan.proofAccounts;
  const devices = plan.n;
  releasePlan(plan);
  const base = await baseline();

  const { list, mark, total } = phaseClock();

  const net = inputs.networks[0]!;
  const plugin = uptimeNetwork;
  const parameters = plugin.parameters.schema.parse(net.parameters);
  const rejections = [...net.ingestRejections];
  await mark('parameters');
  // Receive order, ties by digest, as computeEpoch orders the reports before the verifier.
  const ordered = [...net.reports].sort((a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  await mark('order reports (computeEpoch)');
  const out = plugin.verify({
    epoch: inputs.epoch,
    start: inputs.start,
    end: inputs.end,
    parameters,
    devices: net.devices,
    reports: ordered,
    oracleInputs: net.oracleInputs,
  });
  await mark('verifyUptime (scores)');
  // A loop, not rejections.push(...out.rejections): a spread of this many arguments overflows
  // the stack (RangeError) past ~120k rejections.
  for (const r of out.rejections) rejections.push(r);
  const usage = new Map(net.usage.map((u) => [u.device, BigInt(u.credits)]));
  const owners = new AccountTable();
  const columns = networkColumns(
    { kind: net.kind, budget: BigInt(net.budget), usageShareBps: plugin.usageShareBps(parameters), count: net.devices.length },
    (i) => ({
      device: net.devices[i]!.device,
      owner: net.devices[i]!.owner,
      score: out.scores[i]!.score,
      usage: usage.get(net.devices[i]!.device) ?? 0n,
    }),
    owners,
  );
  await mark('reward columns (owner table, scores, usage)');
  const perNetwork = {
    kind: net.kind,
    scores: out.scores.map((s) => ({ device: s.device, score: s.score.toString(), detail: s.detail })),
    rejections,
  };
  await mark('score strings for the result');
  const prior = priorColumns(inputs.prior.cumulative.map((c) => [c.account, BigInt(c.amount)] as const));
  await mark('prior columns');
  const rewards = computeRewardColumns({ owners: owners.accounts, networks: [columns], prior });
  await mark('computeRewardColumns');
  const tree = RewardTree.fromColumns(rewards.cumulative.accounts, rewards.cumulative.amounts);
  await mark('RewardTree.fromColumns');
  const str = (n: bigint) => n.toString();
  const s = rewards.networks[0]!;
  const devicesOut: unknown[] = [];
  forEachDeviceReward(rewards, [columns], (_, i, owner, proof, usageReward, totalReward) => {
    devicesOut.push({
      network: net.kind,
      device: net.devices[i]!.device,
      owner: owners.lower[owner]!,
      proof: str(proof),
      usage: str(usageReward),
      total: str(totalReward),
    });
  });
  const ownersOut: unknown[] = [];
  const cumulative: unknown[] = [];
  forEachLeaf(rewards, (account, amount, earned) => {
    cumulative.push({ account, amount: str(amount) });
    if (earned !== undefined) ownersOut.push({ account, amount: str(earned) });
  });
  const result = {
    networks: [
      {
        ...perNetwork,
        budget: str(s.budget),
        usagePool: str(s.usagePool),
        proofPool: str(s.proofPool),
        paid: str(s.paid),
        undistributed: str(s.undistributed),
      },
    ],
    devices: devicesOut,
    owners: ownersOut,
    cumulative,
    total: str(rewards.total),
    paid: str(rewards.paid),
    undistributed: str(rewards.undistributed),
    root: tree.root,
  };
  await mark('result object (decimal strings)');
  const fetched = accounts.map((account) => tree.proofFor(account));
  await mark(`${accounts.length} proofs (proofFor)`);
  const ms = total();

  const claims = fetched.flatMap((c, k) => (c ? [{ account: accounts[k]!, amount: c.amount, proof: c.proof }] : []));
  return {
    mode: 'phases',
    devices,
    leaves: tree.length,
    ms: Math.round(ms),
    root: result.root,
    maxRssKiB: maxRssKiB(),
    ...base,
    proofs: accounts.length,
    proofsChecked: claims.length,
    proofsDigest: digestClaims(claims),
    epoch: {
      challenges: net.oracleInputs.length,
      reports: net.reports.length,
      rejections: rejections.length,
      scored: perNetwork.scores.length,
      paid: result.paid,
      cumulativeTotal: result.total,
    },
    phases: list,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      devices: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '1' },
      proofs: { type: 'string', default: '1000' },
    },
  });
  const mode = values.mode as Mode;
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}, got ${values.mode}`);
  const plan = planEpoch(Number(values.devices), Number(values.seed), Number(values.proofs));
  const result = await { fast, oz, full, phases }[mode](plan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
