/**
 * Deterministic epoch-close inputs for N devices of the `uptime` network, from a seed, for
 * bench/epoch-close.ts. Generation happens in two steps so that both sides of the benchmark get
 * the same epoch from the same seed without either one paying for what it does not use:
 *
 * 1. {@link planEpoch}: a compact plan in typed arrays (who owns each device, when each
 *    challenge was issued, whether and when it was answered, usage credits, prior cumulative
 *    amounts). Everything the reward amounts depend on is in the plan.
 * 2. {@link materialise}: the full `EpochInputs` the oracle would hand to `computeEpoch` (device
 *    snapshots with keys, 3 challenges per device as oracle inputs, the accepted reports, usage,
 *    prior cumulative list), in the order the oracle's SQL returns them;
 *    {@link rewardColumnsFromPlan}: only what `computeRewardColumns` takes (owners, per device
 *    its owner index, the verifier's score and usage; prior amounts), the input of the headline
 *    chain (scores → rewards → tree → proofs);
 *    {@link rewardInputsFromPlan}: the same as objects, what `computeRewards` takes (per device:
 *    id, owner, score, usage; the prior cumulative Map), from which the baseline computes its
 *    leaves before the clock, so equal roots check the two paths against each other.
 *
 * The shape of the epoch:
 * - N devices, N/2 owners: device i < N/2 is owned by owner i, every other device by a random
 *   owner, so each owner has 1 + Poisson(1) devices and the per-owner sums do real work.
 *   Owners are EIP-55 checksummed (as the chain snapshot has them), prior accounts lowercase
 *   (as the previous epoch's result has them).
 * - Each device gets 3 challenges (the uptime default), spread over a 1-hour epoch, each with
 *   the default 4 s deadline. Each device answers k of them, k uniform in 0..3; an answer
 *   arrives late 10% of the time; 1% of answers are sent twice (the copy 500 ms later is a
 *   distinct report with its own digest: a rejected duplicate, or late).
 * - 10% of devices have usage credits, so the usage pool (50% of the budget) is paid as well.
 * - A prior cumulative list for N/4 accounts: N/8 of the current owners and N/8 accounts that
 *   earned in earlier epochs but own no device now.
 *
 * Reports are not signed (1.5 million P-256 signatures would take minutes to make and are
 * checked at ingest); `sig` is a fixed dummy 64-byte value and `digest` a random 32-byte value,
 * so the epoch must be computed with `checkSignatures: false`.
 *
 * Strings are built flat (Buffer#toString), as a JSON or database decoder returns them; one
 * string per distinct value is shared by the objects that name it (a device id is one string
 * for its snapshot, its challenges and its reports), which is the least memory these inputs
 * can take as plain objects.
 */
import type { Address, Hex } from 'viem';
import { keccak256Bytes } from '../../protocol/src/merkle.ts';
import { SCORE_SCALE, type DeviceActivity, type NetworkRewardInput, type RewardColumnsInput } from '../../protocol/src/rewards.ts';
import { type EpochInputs, type EpochTables, networkTables } from '../../protocol/src/epoch-close.ts';
import { AccountAmounts } from '../../protocol/src/epoch-tables.ts';
import type { NetworkPlugins } from '../../protocol/src/network.ts';
import type { AcceptedReport, DeviceSnapshot } from '../../protocol/src/network.ts';
import { seededRandom } from '@groundwork/protocol';

export const EPOCH_SECONDS = 3600;
export const CHALLENGES_PER_DEVICE = 3;
export const DEADLINE_MS = 4_000;
export const USAGE_SHARE_BPS = 5_000;
export const PARAMETERS = { challengesPerEpoch: CHALLENGES_PER_DEVICE, deadlineMs: DEADLINE_MS, usageShareBps: USAGE_SHARE_BPS };
/** The network's budget for the epoch: one million tokens of 18 decimals. */
export const BUDGET = 1_000_000n * 10n ** 18n;
const EPOCH = 1_000;
const START = 1_760_000_400; // unix seconds, a multiple of the epoch length
const CHAIN_ID = 31337;
const REGISTRY = '0x5fbdb2315678afecb367f032d93f642f64180aa3' as Address;
const DISTRIBUTOR = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512' as Address;
const NETWORK_ID = `0x${'75'.padEnd(64, '0')}` as Hex;
/** The fields of the synthetic epoch besides its networks and prior. */
const ENVELOPE = {
  format: 'groundwork/epoch-artifact@1',
  chainId: CHAIN_ID,
  registry: REGISTRY,
  distributor: DISTRIBUTOR,
  epoch: EPOCH,
  start: START,
  end: START + EPOCH_SECONDS,
  snapshotBlock: '123456',
} as const;
/** What every report's `sig` holds: signatures are not checked (see the module comment). */
export const DUMMY_SIG = `0x${'ab'.repeat(64)}` as Hex;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const hexScratch = Buffer.alloc(2 + 8 * 8, '0x', 'latin1');

/** `0x` and 8*words (at most 64) lowercase hex digits from the generator, as one flat string. */
function randomHex(next: () => number, words: number): Hex {
  for (let w = 0, at = 2; w < words; w++) {
    const v = next();
    for (let shift = 28; shift >= 0; shift -= 4) hexScratch[at++] = HEX_DIGITS[(v >>> shift) & 0xf]!;
  }
  return hexScratch.toString('latin1', 0, 2 + 8 * words) as Hex;
}

/** EIP-55 mixed case of a lowercase address. */
function checksum(lower: string): Address {
  const hash = keccak256Bytes(Buffer.from(lower.slice(2), 'latin1'));
  const out = Buffer.from(lower, 'latin1');
  for (let j = 0; j < 40; j++) {
    const nibble = (hash[j >> 1]! >> (j % 2 === 0 ? 4 : 0)) & 0xf;
    const c = out[2 + j]!;
    if (nibble >= 8 && c >= 0x61) out[2 + j] = c - 0x20;
  }
  return out.toString('latin1') as Address;
}

export type EpochPlan = {
  n: number;
  seed: number;
  /** Owner addresses, EIP-55. */
  owners: Address[];
  /** Owner index of each device. */
  ownerOf: Uint32Array;
  /** Per challenge (device i's j-th at 3i + j): issue time, ms after the epoch's start. */
  issuedOffset: Uint32Array;
  /** Per challenge: 0 unanswered, 1 answered in time, 2 answered late. */
  answer: Uint8Array;
  /** Per challenge: ms from issue to the answer's arrival (when answered). */
  delay: Uint32Array;
  /** Per challenge: 1 if the answer was sent twice. */
  resent: Uint8Array;
  /** Usage credits per device, 0 for none. */
  usage: Uint32Array;
  prior: { account: Address; amount: string }[];
  /** Accounts whose proofs are fetched: sure to be leaves (they earned this epoch, or earlier). */
  proofAccounts: Address[];
};

/** The compact plan of an epoch with n devices (see the module comment). */
export function planEpoch(n: number, seed: number, proofs: number): EpochPlan {
  const next = seededRandom(seed);
  const ownerCount = Math.max(1, Math.floor(n / 2));
  const owners: Address[] = new Array(ownerCount);
  for (let o = 0; o < ownerCount; o++) owners[o] = checksum(randomHex(next, 5));
  const ownerOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) ownerOf[i] = i < ownerCount ? i : next() % ownerCount;

  const c = n * CHALLENGES_PER_DEVICE;
  const issuedOffset = new Uint32Array(c);
  const answer = new Uint8Array(c);
  const delay = new Uint32Array(c);
  const resent = new Uint8Array(c);
  const usage = new Uint32Array(n);
  // Challenges in slots as planChallenges spreads them: one at a random moment in each third.
  const slot = Math.floor((EPOCH_SECONDS * 1000 - DEADLINE_MS - 500) / CHALLENGES_PER_DEVICE);
  for (let i = 0; i < n; i++) {
    const k = next() % (CHALLENGES_PER_DEVICE + 1); // answers this device sends
    const first = next() % CHALLENGES_PER_DEVICE; // answered: first, first+1, ... (mod 3)
    for (let j = 0; j < CHALLENGES_PER_DEVICE; j++) {
      const at = CHALLENGES_PER_DEVICE * i + j;
      issuedOffset[at] = slot * j + (next() % slot);
      if ((j - first + CHALLENGES_PER_DEVICE) % CHALLENGES_PER_DEVICE >= k) continue;
      const late = next() % 10 === 0;
      answer[at] = late ? 2 : 1;
      delay[at] = late ? DEADLINE_MS + 1 + (next() % 5_000) : 50 + (next() % (DEADLINE_MS - 50));
      resent[at] = next() % 100 === 0 ? 1 : 0;
    }
    if (next() % 10 === 0) usage[i] = 1 + (next() % 1_000_000);
  }

  // Prior cumulative amounts: one current owner in each block of 4 (N/8), plus N/8 accounts
  // that own nothing now. Amounts up to ~2^80 wei (about a million tokens).
  const prior: EpochPlan['prior'] = [];
  const priorAmount = () => ((BigInt(next() & 0xffff) << 64n) | (BigInt(next()) << 32n) | BigInt(next())).toString();
  for (let b = 0; b + 4 <= ownerCount; b += 4)
    prior.push({ account: owners[b + (next() % 4)]!.toLowerCase() as Address, amount: priorAmount() });
  for (let b = 0; b + 4 <= ownerCount; b += 4) prior.push({ account: randomHex(next, 5) as Address, amount: priorAmount() });

  // Which accounts end up as leaves: every prior account, every owner with a device that earns.
  const earns = new Uint8Array(ownerCount);
  for (let i = 0; i < n; i++) if (usage[i]! > 0 || onTimeAnswers(answer, i) > 0) earns[ownerOf[i]!] = 1;
  const leafAccounts: Address[] = prior.map((p) => p.account);
  for (let o = 0; o < ownerCount; o++) if (earns[o]) leafAccounts.push(owners[o]!);
  const pick = seededRandom(seed ^ 0x5eed);
  const proofAccounts = Array.from({ length: Math.min(proofs, leafAccounts.length) }, () => leafAccounts[pick() % leafAccounts.length]!);

  return { n, seed, owners, ownerOf, issuedOffset, answer, delay, resent, usage, prior, proofAccounts };
}

/** Drops the plan's per-device arrays once they have been turned into inputs. */
export function releasePlan(plan: EpochPlan): void {
  plan.ownerOf = new Uint32Array(0);
  plan.issuedOffset = new Uint32Array(0);
  plan.answer = new Uint8Array(0);
  plan.delay = new Uint32Array(0);
  plan.resent = new Uint8Array(0);
  plan.usage = new Uint32Array(0);
  plan.prior = [];
}

function onTimeAnswers(answer: Uint8Array, i: number): number {
  let a = 0;
  for (let j = 0; j < CHALLENGES_PER_DEVICE; j++) if (answer[CHALLENGES_PER_DEVICE * i + j] === 1) a++;
  return a;
}

/** Seed offset of the stream that makes device ids, keys, nonces and digests. */
const IDS_SEED = 0x1badd00d;

/** The n device ids (32 random bytes each, flat strings), sorted: the snapshot's order. */
function makeDeviceIds(n: number, next: () => number): Hex[] {
  const ids: Hex[] = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = randomHex(next, 8);
  return ids.sort();
}

/**
 * What computeRewards takes for the plan's epoch, without the uptime inputs: one
 * `DeviceActivity` per device with the same device id and owner as {@link materialise}'s
 * snapshot, the score verifyUptime gives it (answers in time × SCORE_SCALE / challenges, a
 * bigint of its own per device, as the verifier makes them) and its usage (`0n` when it has
 * none, as computeEpoch passes it). Owner strings are the plan's, shared by all of an owner's
 * devices, as a decoded snapshot would share them at best. The prior is the Map computeEpoch
 * builds from the prior cumulative list (lowercase account → amount). computeRewards over this
 * arrives at the same cumulative leaves as computeEpoch over {@link materialise}'s inputs.
 */
export function rewardInputsFromPlan(plan: EpochPlan): { networks: NetworkRewardInput[]; prior: Map<string, bigint> } {
  const ids = makeDeviceIds(plan.n, seededRandom(plan.seed ^ IDS_SEED));
  const devices: DeviceActivity[] = new Array(plan.n);
  const challenges = BigInt(CHALLENGES_PER_DEVICE);
  for (let i = 0; i < plan.n; i++) {
    const score = (BigInt(onTimeAnswers(plan.answer, i)) * SCORE_SCALE) / challenges;
    const usage = plan.usage[i]! > 0 ? BigInt(plan.usage[i]!) : 0n;
    devices[i] = { device: ids[i]!, owner: plan.owners[plan.ownerOf[i]!]!, score, usage };
  }
  const prior = new Map<string, bigint>();
  for (const p of plan.prior) prior.set(p.account.toLowerCase(), BigInt(p.amount));
  return { networks: [{ kind: 'uptime', budget: BUDGET, usageShareBps: USAGE_SHARE_BPS, devices }], prior };
}

/**
 * The same epoch's reward input as columns, what computeEpoch hands computeRewardColumns: the
 * distinct owners as 20-byte accounts, each device's owner index and score (parts per million,
 * the verifier's answers in time × SCORE_SCALE / challenges), usage where there is any, and the
 * prior cumulative amounts as accounts and amounts. Device ids are not part of it: the reward
 * math and the tree never read them (the artifact names devices from the snapshot).
 */
export function rewardColumnsFromPlan(plan: EpochPlan): RewardColumnsInput {
  // Parsed in place: no Buffer per account, which would leave a fragmented heap behind.
  const owners = Buffer.alloc(20 * plan.owners.length);
  plan.owners.forEach((o, k) => {
    owners.write(o.slice(2), 20 * k, 20, 'hex');
  });
  const scores = new Uint32Array(plan.n);
  const usageIndex: number[] = [];
  const credits: bigint[] = [];
  for (let i = 0; i < plan.n; i++) {
    scores[i] = Number((BigInt(onTimeAnswers(plan.answer, i)) * SCORE_SCALE) / BigInt(CHALLENGES_PER_DEVICE));
    if (plan.usage[i]! > 0) {
      usageIndex.push(i);
      credits.push(BigInt(plan.usage[i]!));
    }
  }
  const accounts = Buffer.alloc(20 * plan.prior.length);
  plan.prior.forEach((p, k) => {
    accounts.write(p.account.slice(2), 20 * k, 20, 'hex');
  });
  return {
    owners,
    networks: [
      {
        kind: 'uptime',
        budget: BUDGET,
        usageShareBps: USAGE_SHARE_BPS,
        scores,
        ownerOf: plan.ownerOf.slice(),
        usage: { index: Uint32Array.from(usageIndex), credits },
      },
    ],
    prior: { accounts, amounts: plan.prior.map((p) => BigInt(p.amount)) },
  };
}

/** The items ordered by a numeric key (unique, below 2^53), with a native sort of the keys. */
function byKey<T>(items: T[], key: (item: T, index: number) => number): T[] {
  const keys = new Float64Array(items.length);
  for (let k = 0; k < items.length; k++) keys[k] = key(items[k]!, k);
  keys.sort();
  const out: T[] = new Array(items.length);
  for (let k = 0; k < items.length; k++) out[k] = items[keys[k]! % items.length]!;
  return out;
}

/**
 * Device i of the snapshot. Its keys and registration time are the next draws of `next`: both
 * builders below call this in device order, so they draw the same values.
 */
function deviceSnapshot(plan: EpochPlan, deviceIds: Hex[], i: number, next: () => number): DeviceSnapshot {
  return {
    device: deviceIds[i]!,
    owner: plan.owners[plan.ownerOf[i]!]!,
    network: 'uptime',
    keyX: randomHex(next, 8),
    keyY: randomHex(next, 8),
    stake: '1000000000000000000000',
    registeredAt: START - 86_400 - (next() % 10_000_000),
  };
}

/** An accepted uptime answer (unsigned: the bench computes with `checkSignatures: false`). */
function answer(device: Hex, nonce: Hex, receivedAt: number, digest: Hex): AcceptedReport {
  return {
    report: {
      v: 1,
      chainId: CHAIN_ID,
      registry: REGISTRY,
      network: 'uptime',
      type: 'uptime.answer',
      device,
      epoch: EPOCH,
      body: { nonce },
      sig: DUMMY_SIG,
    },
    digest,
    receivedAt,
  };
}

/** The full epoch inputs the oracle would collect for the plan's epoch (see the module comment). */
export function materialise(plan: EpochPlan): EpochInputs {
  const { n } = plan;
  const next = seededRandom(plan.seed ^ IDS_SEED); // ids, keys, nonces, digests: nothing the amounts depend on
  const startMs = START * 1000;

  const deviceIds = makeDeviceIds(n, next);
  const devices: DeviceSnapshot[] = new Array(n);
  for (let i = 0; i < n; i++) devices[i] = deviceSnapshot(plan, deviceIds, i, next);

  const usage: EpochInputs['networks'][number]['usage'] = [];
  for (let i = 0; i < n; i++) if (plan.usage[i]! > 0) usage.push({ device: deviceIds[i]!, credits: String(plan.usage[i]!) });

  type Challenge = { network: string; device: Hex; epoch: number; nonce: Hex; issuedAt: number; deadline: number };
  const made: Challenge[] = new Array(n * CHALLENGES_PER_DEVICE);
  const madeReports: AcceptedReport[] = [];
  const report = (device: Hex, nonce: Hex, receivedAt: number) => answer(device, nonce, receivedAt, randomHex(next, 8));
  for (let i = 0; i < n; i++) {
    const device = deviceIds[i]!;
    for (let j = 0; j < CHALLENGES_PER_DEVICE; j++) {
      const at = CHALLENGES_PER_DEVICE * i + j;
      const issuedAt = startMs + plan.issuedOffset[at]!;
      const nonce = randomHex(next, 8);
      made[at] = { network: 'uptime', device, epoch: EPOCH, nonce, issuedAt, deadline: issuedAt + DEADLINE_MS };
      if (plan.answer[at] === 0) continue;
      const receivedAt = issuedAt + plan.delay[at]!;
      madeReports.push(report(device, nonce, receivedAt));
      if (plan.resent[at]) madeReports.push(report(device, nonce, receivedAt + 500));
    }
  }
  // The oracle's queries list challenges by (issued_at, device, nonce) and reports by
  // (received_at, digest). Both are sorted here on numeric keys (time, then position), which
  // is the same order: a device's challenges never share a millisecond, and runs of reports
  // received in the same millisecond are then put in digest order.
  const challenges = byKey(made, (c, k) => (c.issuedAt - startMs) * made.length + k);
  const reports = byKey(madeReports, (r, k) => (r.receivedAt - startMs) * madeReports.length + k);
  for (let a = 0; a < reports.length; ) {
    let b = a + 1;
    while (b < reports.length && reports[b]!.receivedAt === reports[a]!.receivedAt) b++;
    if (b - a > 1) {
      const run = reports.slice(a, b).sort((x, y) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0));
      for (let k = a; k < b; k++) reports[k] = run[k - a]!;
    }
    a = b;
  }

  return {
    ...ENVELOPE,
    networks: [
      {
        kind: 'uptime',
        id: NETWORK_ID,
        budget: BUDGET.toString(),
        parameters: { ...PARAMETERS },
        devices,
        usage,
        oracleInputs: challenges,
        reports,
        ingestRejections: [],
      },
    ],
    prior: {
      epoch: EPOCH - 1,
      root: `0x${'11'.repeat(32)}` as Hex,
      total: plan.prior.reduce((s, p) => s + BigInt(p.amount), 0n).toString(),
      cumulative: plan.prior,
    },
  };
}

/**
 * The same epoch as {@link materialise}, as the tables the close computes on (what the oracle's
 * closer reads from its database), without the objects: the same ids, keys, nonces and digests,
 * in the same row order. Built row by row straight into the columns.
 */
export function tablesFromPlan(plan: EpochPlan, plugins: NetworkPlugins): EpochTables {
  const { n } = plan;
  const next = seededRandom(plan.seed ^ IDS_SEED);
  const startMs = START * 1000;
  const deviceIds = makeDeviceIds(n, next);
  const net = networkTables({ kind: 'uptime', id: NETWORK_ID, budget: BUDGET.toString(), parameters: { ...PARAMETERS } }, plugins);
  net.devices.reserve(n);
  for (let i = 0; i < n; i++) net.devices.push(deviceSnapshot(plan, deviceIds, i, next));
  for (let i = 0; i < n; i++) if (plan.usage[i]! > 0) net.usage.push({ device: deviceIds[i]!, credits: String(plan.usage[i]!) });

  // Challenges and answers in the order materialise makes them, then sorted as the closer lists
  // them: challenges by device, then time; reports by receive time (oracle/src/closer.ts).
  const c = n * CHALLENGES_PER_DEVICE;
  const nonces: Hex[] = new Array(c);
  const reportOf: { challenge: number; receivedAt: number; digest: Hex }[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < CHALLENGES_PER_DEVICE; j++) {
      const at = CHALLENGES_PER_DEVICE * i + j;
      nonces[at] = randomHex(next, 8);
      if (plan.answer[at] === 0) continue;
      const receivedAt = startMs + plan.issuedOffset[at]! + plan.delay[at]!;
      reportOf.push({ challenge: at, receivedAt, digest: randomHex(next, 8) });
      if (plan.resent[at]) reportOf.push({ challenge: at, receivedAt: receivedAt + 500, digest: randomHex(next, 8) });
    }
  }
  net.oracleInputs.reserve?.(c);
  // Device i's challenges are 3i..3i+2, issued in that order: already by device, then time.
  for (let at = 0; at < c; at++) {
    const issuedAt = startMs + plan.issuedOffset[at]!;
    const device = deviceIds[Math.floor(at / CHALLENGES_PER_DEVICE)]!;
    net.oracleInputs.push({ network: 'uptime', device, epoch: EPOCH, nonce: nonces[at]!, issuedAt, deadline: issuedAt + DEADLINE_MS });
  }
  reportOf.sort((a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  net.reports.reserve(reportOf.length, reportOf.length * '{"nonce":"0x"}'.length + reportOf.length * 64);
  for (const r of reportOf) {
    net.reports.push(answer(deviceIds[Math.floor(r.challenge / CHALLENGES_PER_DEVICE)]!, nonces[r.challenge]!, r.receivedAt, r.digest));
  }
  const cumulative = new AccountAmounts();
  for (const p of plan.prior) cumulative.push(p);
  net.devices.compact();
  net.reports.compact();
  net.oracleInputs.compact?.();
  return {
    ...ENVELOPE,
    networks: [net],
    prior: {
      epoch: EPOCH - 1,
      root: `0x${'11'.repeat(32)}` as Hex,
      total: plan.prior.reduce((s, p) => s + BigInt(p.amount), 0n).toString(),
      cumulative,
    },
  };
}
