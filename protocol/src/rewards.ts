// Reward math, in bigint with every rounding stated. Pure: the oracle's epoch close and
// `groundwork epoch verify` call the same function on the same inputs and get the same amounts.
//
//   epoch emission ──(on chain, Emissions.release: floor by weight)──▶ network budget
//   network budget ──▶ usage pool (credits consumers spent on each device's service)
//                  └─▶ proof pool (the network verifier's scores)
//   pool ──(floor(pool × weight_d / Σweight))──▶ device ──(sum)──▶ owner ──(+ prior)──▶ cumulative
//
// Rounding: every division rounds down, so an epoch never pays more than its budget; the dust
// (budget − paid) stays in the distributor unallocated and is reported as `undistributed`.
// An empty pool's share flows to the other one, as Helium's unused data-transfer pool flows back
// to proof-of-coverage; if a network has neither scores nor usage its budget is undistributed.
// A network may also cap its usage pool at what the usage is worth in token (`usageValue`, from
// its verifier: coverage's data transfer, as Helium caps it); the rest flows to the proof pool.
import type { Address, Hex } from 'viem';
import { sameBytes, sortRecords, toHex, writeHex } from './bytes.ts';

/** Scores are parts per million: 1_000_000 is a perfect epoch. */
export const SCORE_SCALE = 1_000_000n;
export const BPS = 10_000n;

export type DeviceActivity = {
  device: Hex;
  owner: Address;
  /** Verifier score, 0..SCORE_SCALE. */
  score: bigint;
  /** Credits consumers spent on this device's service during the epoch. */
  usage: bigint;
};

export type NetworkRewardInput = {
  kind: string;
  budget: bigint;
  /** Share of the budget for the usage pool, in basis points (0..10,000). */
  usageShareBps: number;
  devices: readonly DeviceActivity[];
};

export type DeviceReward = { network: string; device: Hex; owner: Address; proof: bigint; usage: bigint; total: bigint };

export type NetworkRewardSummary = {
  kind: string;
  budget: bigint;
  usagePool: bigint;
  proofPool: bigint;
  paid: bigint;
  undistributed: bigint;
};

export type EpochRewards = {
  devices: DeviceReward[];
  networks: NetworkRewardSummary[];
  /** This epoch's reward per owner (lowercase address), sorted by address. */
  owners: { account: Address; amount: bigint }[];
  /** Cumulative amount per owner after this epoch, sorted by address: the tree's leaves. */
  cumulative: { account: Address; amount: bigint }[];
  /** Sum of `cumulative`: the root's total. */
  total: bigint;
  paid: bigint;
  undistributed: bigint;
};

export class RewardInputError extends Error {
  override name = 'RewardInputError';
}

/** Splits one network's budget into its two pools (see the rounding rules above). */
export function splitPools(
  budget: bigint,
  usageShareBps: number,
  hasUsage: boolean,
  hasScores: boolean,
  usageCap?: bigint,
): { usagePool: bigint; proofPool: bigint } {
  if (!Number.isInteger(usageShareBps) || usageShareBps < 0 || usageShareBps > 10_000) {
    throw new RewardInputError(`usageShareBps must be an integer in 0..10000, got ${usageShareBps}`);
  }
  if (usageCap !== undefined && usageCap < 0n) throw new RewardInputError(`usageCap must not be negative, got ${usageCap}`);
  const capped = (pool: bigint) => (usageCap !== undefined && usageCap < pool ? usageCap : pool);
  if (hasUsage && hasScores) {
    // Capped, the usage pool's unused part flows back to the proof pool (Helium's data transfer).
    const usagePool = capped((budget * BigInt(usageShareBps)) / BPS);
    return { usagePool, proofPool: budget - usagePool };
  }
  if (hasUsage) return { usagePool: capped(budget), proofPool: 0n };
  if (hasScores) return { usagePool: 0n, proofPool: budget };
  return { usagePool: 0n, proofPool: 0n };
}

// ---------------------------------------------------------------------------------------------
// The math, on columns: what the epoch close runs. A million devices are a few typed arrays, not
// a million objects, so the close takes a fraction of a second and little memory.
// ---------------------------------------------------------------------------------------------

const ACCOUNT_BYTES = 20;
const SCORE_MAX = Number(SCORE_SCALE);

/** One network's devices, column by column (device i is the i-th entry of each column). */
export type NetworkRewardColumns = {
  kind: string;
  budget: bigint;
  /** Share of the budget for the usage pool, in basis points (0..10,000). */
  usageShareBps: number;
  /** Each device's verifier score, 0..SCORE_SCALE parts per million. */
  scores: Uint32Array;
  /** Each device's owner, an index into {@link RewardColumnsInput.owners}. */
  ownerOf: Uint32Array;
  /** Credits consumers spent: device indexes, strictly increasing, and the credits of each. */
  usage: { index: Uint32Array; credits: readonly bigint[] };
  /**
   * Devices (by index, non-zero) that forfeit this epoch's reward: a device with a fraud finding.
   * Its shares are computed as any device's, so the others' are what they would be anyway, and
   * are not paid: they stay undistributed.
   */
  forfeit?: Uint8Array;
  /**
   * What the usage is worth: `tokens` token units per `credits` credits. When given, the usage
   * pool is at most the epoch's usage at that rate (Helium caps data transfer at the value of
   * the data credits burned, so a hotspot paying for its own packets buys back only what it paid).
   */
  usageValue?: { credits: bigint; tokens: bigint };
};

export type RewardColumnsInput = {
  /** The owners' accounts, 20 bytes each, no account twice. */
  owners: Uint8Array;
  networks: readonly NetworkRewardColumns[];
  /** Cumulative amounts before this epoch: 20 account bytes each (no account twice), and the amount of each. */
  prior: { accounts: Uint8Array; amounts: readonly bigint[] };
};

export type RewardColumns = {
  networks: (NetworkRewardSummary & {
    /** Each device's proof-pool reward, in device order. */
    proof: bigint[];
    /** Each usage entry's usage-pool reward, in the input's usage order. */
    usage: bigint[];
  })[];
  /** This epoch's reward per owner index (0n for none). */
  earned: bigint[];
  /**
   * The tree's leaves, sorted by account: 20 account bytes each, the cumulative amount, and the
   * owner index that earned this epoch (-1 for an account that earned nothing now).
   */
  cumulative: { accounts: Uint8Array; amounts: bigint[]; earner: Int32Array };
  total: bigint;
  paid: bigint;
  undistributed: bigint;
};

/**
 * Computes one epoch's rewards from columns (see the rules at the top of this file): per device,
 * per owner and the cumulative leaves sorted by account. {@link computeRewards} is the same math
 * on objects; it turns them into columns and calls this.
 *
 * @example
 * const r = computeRewardColumns({ owners, networks: [{ kind: 'uptime', budget, usageShareBps: 5000, scores, ownerOf, usage }], prior })
 * const tree = RewardTree.fromColumns(r.cumulative.accounts, r.cumulative.amounts)
 */
export function computeRewardColumns(input: RewardColumnsInput): RewardColumns {
  const ownerCount = accountCount(input.owners, 'owners');
  const earned = new Array<bigint>(ownerCount).fill(0n);
  const networks: RewardColumns['networks'] = [];
  for (const net of input.networks) networks.push(networkRewards(net, ownerCount, earned));

  const priorCount = accountCount(input.prior.accounts, 'prior accounts');
  if (input.prior.amounts.length !== priorCount)
    throw new RewardInputError(`prior: ${priorCount} accounts but ${input.prior.amounts.length} amounts`);
  for (let p = 0; p < priorCount; p++) {
    const amount = input.prior.amounts[p]!;
    if (typeof amount !== 'bigint' || amount < 0n)
      throw new RewardInputError(
        `prior cumulative of ${toHex(input.prior.accounts, ACCOUNT_BYTES * p, ACCOUNT_BYTES)} is negative or not a bigint`,
      );
  }
  const cumulative = mergeCumulative(input.owners, earned, input.prior);
  const paid = networks.reduce((s, n) => s + n.paid, 0n);
  // Σ cumulative = Σ prior + Σ earned, and Σ earned is what the networks paid.
  let total = paid;
  for (const amount of input.prior.amounts) total += amount;
  const undistributed = networks.reduce((s, n) => s + n.undistributed, 0n);
  return { networks, earned, cumulative, total, paid, undistributed };
}

function accountCount(bytes: Uint8Array, what: string): number {
  if (!(bytes instanceof Uint8Array) || bytes.length % ACCOUNT_BYTES !== 0)
    throw new RewardInputError(`${what}: expected 20 bytes per account`);
  return bytes.length / ACCOUNT_BYTES;
}

/** One network's pools and per-device amounts; adds each device's reward to its owner's `earned`. */
function networkRewards(net: NetworkRewardColumns, ownerCount: number, earned: bigint[]): RewardColumns['networks'][number] {
  const { scores, ownerOf, usage, forfeit } = net;
  const n = scores.length;
  if (forfeit && forfeit.length !== n) throw new RewardInputError(`network ${net.kind}: ${n} scores but ${forfeit.length} forfeit flags`);
  if (typeof net.budget !== 'bigint' || net.budget < 0n) throw new RewardInputError(`network ${net.kind}: negative budget`);
  if (ownerOf.length !== n) throw new RewardInputError(`network ${net.kind}: ${n} scores but ${ownerOf.length} owners`);
  if (usage.index.length !== usage.credits.length)
    throw new RewardInputError(`network ${net.kind}: ${usage.index.length} usage indexes but ${usage.credits.length} credits`);
  let scoreSum = 0; // at most 2^32 devices × 10^6: exact in a double
  for (let i = 0; i < n; i++) {
    if (scores[i]! > SCORE_MAX)
      throw new RewardInputError(`network ${net.kind}: device ${i}: score ${scores[i]} outside 0..${SCORE_SCALE}`);
    if (ownerOf[i]! >= ownerCount)
      throw new RewardInputError(`network ${net.kind}: device ${i}: owner index ${ownerOf[i]} is not an owner`);
    scoreSum += scores[i]!;
  }
  let usageSum = 0n;
  for (let k = 0; k < usage.index.length; k++) {
    if (usage.index[k]! >= n || (k > 0 && usage.index[k]! <= usage.index[k - 1]!)) {
      throw new RewardInputError(`network ${net.kind}: usage index ${usage.index[k]} is out of order or not a device`);
    }
    const credits = usage.credits[k]!;
    if (typeof credits !== 'bigint' || credits < 0n)
      throw new RewardInputError(`network ${net.kind}: device ${usage.index[k]}: negative usage`);
    usageSum += credits;
  }
  const v = net.usageValue;
  if (v && (v.credits <= 0n || v.tokens < 0n))
    throw new RewardInputError(`network ${net.kind}: usage value ${v.tokens} per ${v.credits} credits`);
  const { usagePool, proofPool } = splitPools(
    net.budget,
    net.usageShareBps,
    usageSum > 0n,
    scoreSum > 0,
    v ? (usageSum * v.tokens) / v.credits : undefined,
  );

  // Scores repeat (uptime has challenges + 1 values), so each distinct score is divided once, and
  // what it pays in all is its amount × how many devices have it.
  const proof = new Array<bigint>(n);
  const sum = BigInt(scoreSum);
  const perScore = new Map<number, number>(); // score → slot in `amountOf` and `devicesWith`
  const amountOf: bigint[] = [];
  const devicesWith: number[] = [];
  let paid = 0n;
  for (let i = 0; i < n; i++) {
    const score = scores[i]!;
    if (forfeit?.[i]) {
      proof[i] = 0n; // its share of the pool (Σ counts its score) is not paid
      continue;
    }
    const slot = perScore.get(score);
    let amount: bigint;
    if (slot !== undefined) {
      amount = amountOf[slot]!;
      devicesWith[slot]!++;
    } else {
      amount = score === 0 ? 0n : (proofPool * BigInt(score)) / sum;
      if (perScore.size < 65_536) {
        perScore.set(score, amountOf.length);
        amountOf.push(amount);
        devicesWith.push(1);
      } else paid += amount;
    }
    proof[i] = amount;
    if (amount !== 0n) earned[ownerOf[i]!]! += amount;
  }
  for (let k = 0; k < amountOf.length; k++) paid += amountOf[k]! * BigInt(devicesWith[k]!);
  const usageRewards = new Array<bigint>(usage.index.length);
  for (let k = 0; k < usage.index.length; k++) {
    if (forfeit?.[usage.index[k]!]) {
      usageRewards[k] = 0n; // its credits count in usageSum, its share is not paid
      continue;
    }
    const amount = usage.credits[k]! > 0n ? (usagePool * usage.credits[k]!) / usageSum : 0n;
    usageRewards[k] = amount;
    if (amount !== 0n) {
      earned[ownerOf[usage.index[k]!]!]! += amount;
      paid += amount;
    }
  }
  return { kind: net.kind, budget: net.budget, usagePool, proofPool, paid, undistributed: net.budget - paid, proof, usage: usageRewards };
}

/**
 * The cumulative leaves: every owner that earned this epoch and every prior account, one leaf
 * per account (an account in both gets the sum), sorted by account bytes.
 */
function mergeCumulative(owners: Uint8Array, earned: readonly bigint[], prior: RewardColumnsInput['prior']): RewardColumns['cumulative'] {
  const priorCount = prior.amounts.length;
  let earners = 0;
  for (const e of earned) if (e !== 0n) earners++;
  // Candidates in one table: earners first (from[k] = owner index), then prior (from[k] = -1 - p).
  const count = earners + priorCount;
  const table = new Uint8Array(ACCOUNT_BYTES * count);
  const from = new Int32Array(count);
  let k = 0;
  for (let o = 0; o < earned.length; o++) {
    if (earned[o] === 0n) continue;
    copyAccount(owners, o, table, k);
    from[k++] = o;
  }
  table.set(prior.accounts, ACCOUNT_BYTES * k);
  for (let p = 0; p < priorCount; p++) from[k + p] = -1 - p;
  const { order } = sortRecords(table, 0, count, ACCOUNT_BYTES);

  const accounts = new Uint8Array(ACCOUNT_BYTES * count);
  const amounts: bigint[] = [];
  const earner = new Int32Array(count).fill(-1);
  let leaves = 0;
  let previous = -1;
  let leafHasPrior = false;
  for (let s = 0; s < count; s++) {
    const c = order[s]!;
    const source = from[c]!;
    const amount = source >= 0 ? earned[source]! : prior.amounts[-1 - source]!;
    if (previous >= 0 && sameBytes(table, ACCOUNT_BYTES * previous, ACCOUNT_BYTES * c, ACCOUNT_BYTES)) {
      // The same account again: allowed once as an earner and once as a prior account.
      if (source >= 0 ? earner[leaves - 1]! >= 0 : leafHasPrior) {
        const what = source >= 0 ? 'owners' : 'prior accounts';
        throw new RewardInputError(`${what}: ${toHex(table, ACCOUNT_BYTES * c, ACCOUNT_BYTES)} is listed twice`);
      }
      amounts[leaves - 1]! += amount;
      if (source >= 0) earner[leaves - 1] = source;
      else leafHasPrior = true;
      continue;
    }
    copyAccount(table, c, accounts, leaves);
    amounts.push(amount);
    if (source >= 0) earner[leaves] = source;
    leafHasPrior = source < 0;
    leaves++;
    previous = c;
  }
  return { accounts: accounts.subarray(0, ACCOUNT_BYTES * leaves), amounts, earner: earner.subarray(0, leaves) };
}

/** Copies account `i` of one table to slot `j` of another (a loop: no subarray object per call). */
function copyAccount(from: Uint8Array, i: number, to: Uint8Array, j: number): void {
  for (let b = 0, f = ACCOUNT_BYTES * i, t = ACCOUNT_BYTES * j; b < ACCOUNT_BYTES; b++) to[t + b] = from[f + b]!;
}

/**
 * Owner accounts as the reward columns take them: each distinct account (in any letter case)
 * once, as 20 bytes, with its lowercase text. Looks up repeated strings without re-parsing them.
 */
export class AccountTable {
  private readonly byText = new Map<string, number>();
  private readonly byLower = new Map<string, number>();
  /** Lowercase text of each account, by index. */
  readonly lower: Address[] = [];
  private bytes = new Uint8Array(ACCOUNT_BYTES * 1024);

  /** The index of an account, added if new; throws a RewardInputError naming `what()` if it is not an address. */
  indexOf(account: string, what: () => string): number {
    const known = this.byText.get(account);
    if (known !== undefined) return known;
    if (typeof account !== 'string') throw new RewardInputError(`${what()}: owner is not an address: ${String(account)}`);
    const lower = account.toLowerCase();
    // An account already in lowercase (the oracle's) needs only the lowercase map.
    const spelled = lower !== account;
    let index = this.byLower.get(lower);
    if (index === undefined) {
      index = this.lower.length;
      if (ACCOUNT_BYTES * (index + 1) > this.bytes.length) {
        const grown = new Uint8Array(this.bytes.length * 2);
        grown.set(this.bytes);
        this.bytes = grown;
      }
      if (!writeHex(lower, ACCOUNT_BYTES, this.bytes, ACCOUNT_BYTES * index)) {
        throw new RewardInputError(`${what()}: owner is not an address (0x and 40 hex digits): ${JSON.stringify(account)}`);
      }
      this.lower.push(lower as Address);
      this.byLower.set(lower, index);
    }
    if (spelled) this.byText.set(account, index);
    return index;
  }

  /** The accounts' bytes, 20 each, in index order. */
  get accounts(): Uint8Array {
    return this.bytes.subarray(0, ACCOUNT_BYTES * this.lower.length);
  }
}

/** Prior cumulative amounts by account (any letter case) as columns; refuses a malformed account. */
export function priorColumns(prior: Iterable<readonly [string, bigint]>): RewardColumnsInput['prior'] {
  const entries = [...prior];
  const accounts = new Uint8Array(ACCOUNT_BYTES * entries.length);
  const amounts = new Array<bigint>(entries.length);
  entries.forEach(([account, amount], p) => {
    if (!writeHex(account, ACCOUNT_BYTES, accounts, ACCOUNT_BYTES * p)) {
      throw new RewardInputError(`prior cumulative: ${JSON.stringify(account)} is not an address (0x and 40 hex digits)`);
    }
    if (typeof amount !== 'bigint' || amount < 0n) throw new RewardInputError(`prior cumulative of ${account} is negative or not a bigint`);
    amounts[p] = amount;
  });
  return { accounts, amounts };
}

/**
 * One network's columns from per-device values read by index; `owners` collects the owners.
 * Scores must be bigints in 0..SCORE_SCALE and usage a non-negative bigint (0n for none).
 */
export function networkColumns(
  net: { kind: string; budget: bigint; usageShareBps: number; count: number },
  device: (i: number) => { device: Hex; owner: string; score: bigint; usage: bigint },
  owners: AccountTable,
): NetworkRewardColumns {
  const scores = new Uint32Array(net.count);
  const ownerOf = new Uint32Array(net.count);
  const usageIndex: number[] = [];
  const credits: bigint[] = [];
  for (let i = 0; i < net.count; i++) {
    const d = device(i);
    if (typeof d.score !== 'bigint' || d.score < 0n || d.score > SCORE_SCALE)
      throw new RewardInputError(`device ${d.device}: score ${d.score} outside 0..${SCORE_SCALE}`);
    if (typeof d.usage !== 'bigint' || d.usage < 0n) throw new RewardInputError(`device ${d.device}: negative usage`);
    scores[i] = Number(d.score);
    ownerOf[i] = owners.indexOf(d.owner, () => `device ${d.device}`);
    if (d.usage > 0n) {
      usageIndex.push(i);
      credits.push(d.usage);
    }
  }
  return {
    kind: net.kind,
    budget: net.budget,
    usageShareBps: net.usageShareBps,
    scores,
    ownerOf,
    usage: { index: Uint32Array.from(usageIndex), credits },
  };
}

/**
 * Calls `fn` for every device that earned something, network by network in device order, with
 * its proof-pool, usage-pool and total reward.
 */
export function forEachDeviceReward(
  rewards: RewardColumns,
  inputs: readonly NetworkRewardColumns[],
  fn: (network: number, i: number, owner: number, proof: bigint, usage: bigint, total: bigint) => void,
): void {
  rewards.networks.forEach((net, k) => {
    const { ownerOf, usage } = inputs[k]!;
    let u = 0;
    for (let i = 0; i < net.proof.length; i++) {
      const proof = net.proof[i]!;
      let usageReward = 0n;
      if (u < usage.index.length && usage.index[u] === i) usageReward = net.usage[u++]!;
      const total = proof + usageReward;
      if (total !== 0n) fn(k, i, ownerOf[i]!, proof, usageReward, total);
    }
  });
}

/** Calls `fn` for every cumulative leaf in account order: its lowercase account, amount, and this epoch's earnings (undefined if none). */
export function forEachLeaf(rewards: RewardColumns, fn: (account: Address, amount: bigint, earned: bigint | undefined) => void): void {
  const { accounts, amounts, earner } = rewards.cumulative;
  for (let l = 0; l < amounts.length; l++) {
    const e = earner[l]!;
    fn(toHex(accounts, ACCOUNT_BYTES * l, ACCOUNT_BYTES) as Address, amounts[l]!, e >= 0 ? rewards.earned[e] : undefined);
  }
}

/**
 * Computes one epoch's rewards per device, per owner and cumulative, on objects: turns them
 * into columns, runs {@link computeRewardColumns} and lists the results.
 *
 * @example
 * const r = computeRewards([{ kind: 'uptime', budget: 1000n, usageShareBps: 0, devices }], new Map());
 * r.cumulative // [{ account, amount }] sorted by account: the Merkle tree's leaves
 */
export function computeRewards(networks: readonly NetworkRewardInput[], prior: ReadonlyMap<string, bigint>): EpochRewards {
  const owners = new AccountTable();
  const inputs = networks.map((net) =>
    networkColumns(
      { kind: net.kind, budget: net.budget, usageShareBps: net.usageShareBps, count: net.devices.length },
      (i) => net.devices[i]!,
      owners,
    ),
  );
  // Accounts are parsed to bytes in either letter case, so the same account twice in another case is found as a duplicate.
  const r = computeRewardColumns({ owners: owners.accounts, networks: inputs, prior: priorColumns(prior) });

  const devices: DeviceReward[] = [];
  forEachDeviceReward(r, inputs, (k, i, owner, proof, usage, total) => {
    devices.push({ network: networks[k]!.kind, device: networks[k]!.devices[i]!.device, owner: owners.lower[owner]!, proof, usage, total });
  });
  const ownersOut: EpochRewards['owners'] = [];
  const cumulative: EpochRewards['cumulative'] = [];
  forEachLeaf(r, (account, amount, earned) => {
    cumulative.push({ account, amount });
    if (earned !== undefined) ownersOut.push({ account, amount: earned });
  });
  const summaries = r.networks.map(({ kind, budget, usagePool, proofPool, paid, undistributed }) => ({
    kind,
    budget,
    usagePool,
    proofPool,
    paid,
    undistributed,
  }));
  return { devices, networks: summaries, owners: ownersOut, cumulative, total: r.total, paid: r.paid, undistributed: r.undistributed };
}
