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
import type { Address, Hex } from 'viem';

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
export function splitPools(budget: bigint, usageShareBps: number, hasUsage: boolean, hasScores: boolean): { usagePool: bigint; proofPool: bigint } {
  if (!Number.isInteger(usageShareBps) || usageShareBps < 0 || usageShareBps > 10_000) {
    throw new RewardInputError(`usageShareBps must be an integer in 0..10000, got ${usageShareBps}`);
  }
  if (hasUsage && hasScores) {
    const usagePool = (budget * BigInt(usageShareBps)) / BPS;
    return { usagePool, proofPool: budget - usagePool };
  }
  if (hasUsage) return { usagePool: budget, proofPool: 0n };
  if (hasScores) return { usagePool: 0n, proofPool: budget };
  return { usagePool: 0n, proofPool: 0n };
}

/**
 * Computes one epoch's rewards per device, per owner and cumulative.
 *
 * @example
 * const r = computeRewards([{ kind: 'uptime', budget: 1000n, usageShareBps: 0, devices }], new Map());
 * r.cumulative // [{ account, amount }] sorted by account: the Merkle tree's leaves
 */
export function computeRewards(networks: readonly NetworkRewardInput[], prior: ReadonlyMap<string, bigint>): EpochRewards {
  const devices: DeviceReward[] = [];
  const summaries: NetworkRewardSummary[] = [];
  // Cumulative per owner, keyed by lowercase address; `earned` marks who earned this epoch.
  const cumulative = new Map<string, bigint>();
  const earned = new Map<string, bigint>();
  const lower = new Map<string, Address>(); // owners repeat: lowercase each address once

  for (const [account, amount] of prior) {
    if (amount < 0n) throw new RewardInputError(`prior cumulative of ${account} is negative`);
    cumulative.set(account.toLowerCase(), amount);
  }

  for (const net of networks) {
    if (net.budget < 0n) throw new RewardInputError(`network ${net.kind}: negative budget`);
    let scoreSum = 0n;
    let usageSum = 0n;
    for (const d of net.devices) {
      if (d.score < 0n || d.score > SCORE_SCALE) throw new RewardInputError(`device ${d.device}: score ${d.score} outside 0..${SCORE_SCALE}`);
      if (d.usage < 0n) throw new RewardInputError(`device ${d.device}: negative usage`);
      scoreSum += d.score;
      usageSum += d.usage;
    }
    const { usagePool, proofPool } = splitPools(net.budget, net.usageShareBps, usageSum > 0n, scoreSum > 0n);
    let paid = 0n;
    for (const d of net.devices) {
      const proof = d.score > 0n ? (proofPool * d.score) / scoreSum : 0n;
      const usage = d.usage > 0n ? (usagePool * d.usage) / usageSum : 0n;
      const total = proof + usage;
      if (total === 0n) continue;
      let owner = lower.get(d.owner);
      if (owner === undefined) lower.set(d.owner, (owner = d.owner.toLowerCase() as Address));
      devices.push({ network: net.kind, device: d.device, owner, proof, usage, total });
      earned.set(owner, (earned.get(owner) ?? 0n) + total);
      cumulative.set(owner, (cumulative.get(owner) ?? 0n) + total);
      paid += total;
    }
    summaries.push({ kind: net.kind, budget: net.budget, usagePool, proofPool, paid, undistributed: net.budget - paid });
  }

  // One sort of every account; this epoch's owners are a subset, taken in the same order.
  const accounts = [...cumulative.keys()].sort();
  const owners: EpochRewards['owners'] = [];
  const leaves: EpochRewards['cumulative'] = new Array(accounts.length);
  let total = 0n;
  for (let i = 0; i < accounts.length; i++) {
    const account = accounts[i] as Address;
    const amount = cumulative.get(account)!;
    leaves[i] = { account, amount };
    total += amount;
    const e = earned.get(account);
    if (e !== undefined) owners.push({ account, amount: e });
  }
  const paid = summaries.reduce((s, n) => s + n.paid, 0n);
  const undistributed = summaries.reduce((s, n) => s + n.undistributed, 0n);
  return { devices, networks: summaries, owners, cumulative: leaves, total, paid, undistributed };
}
