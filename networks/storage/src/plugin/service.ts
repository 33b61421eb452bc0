// The storage network's oracle-side service (Storj's satellite, Filecoin PDP's verifier):
//   deals      a consumer opens a deal on chain (StorageDeals), then registers it here with the
//              layout and every shard's root; the service checks both against the chain's
//              commitment, places each shard on a different provider (owners spread) and tells
//              each provider what it will receive. The consumer uploads to the providers directly.
//   proofs     every epoch, each stored shard is challenged on leaves drawn from the chain's block
//              hash and the oracle's randomness; the provider posts the leaves with their paths
//              and signs a proof report committing to them. Each challenge's outcome, with the
//              evidence, is the oracle's input to the epoch (the verifier checks it again).
//   money      a shard proven in an epoch earns its share of the deal's escrow for that epoch;
//              after the epoch ends the oracle quorum settles it on chain, per device (usage), and
//              the final settlement refunds the rest when the deal ends or is terminated.
//   reads      a consumer pays for what it reads: each shard request carries an order it signed
//              against its allowance (CreditEscrow); the provider shows it here before serving, and
//              the quorum settles the allowance per device after the epoch (retrieval.ts).
//   repair     a shard that failed `faultsToRepair` challenges in a row, or whose provider was
//              disqualified, is lost; when a file's healthy shards fall to the repair threshold,
//              the service fetches k healthy shards, rebuilds the lost ones byte for byte (the
//              commitment stays), and uploads them to new providers. The fault that makes a
//              shard lost is recorded with its run (faultRun); the verifier slashes it.
// Durable: deals, shards, payments and reputations live in the oracle's database; a settlement's
// number is read back from the chain before the next, so a retried one never pays twice.
import { randomBytes } from 'node:crypto';
import { StorageDealsAbi, sendSettlement } from '@groundwork/contracts';
import {
  type AcceptedReport,
  canonicalJson,
  jsonBody,
  type NetworkService,
  parseJsonBody,
  parseWith,
  type ServiceContext,
  ServiceError,
  type ServiceRoute,
} from '@groundwork/protocol';
import { type Address, bytesToHex, type Hex, hexToBytes, type LocalAccount } from 'viem';
import { rebuildShards } from '../codec.ts';
import { encodeOrderHeader, ORDER_HEADER, orderDomain, REPAIR_ALLOWANCE, signOrder } from '../orders.ts';
import { dealCommitment, merklePath, shardRoot } from '../commitment.ts';
import { durability, observedLossPerDay } from '../durability.ts';
import { shardBytes as shardBytesOf } from '../layout.ts';
import { challengedLeaves, challengeEntropy, checkShardProof } from '../proof.ts';
import { initialReputation, isDisqualified, recordAudit, type Reputation, reputationScore } from '../reputation.ts';
import { bundleHash, leafAnswers } from './bundle.ts';
import type { StorageParameters } from './parameters.ts';
import { retrievalDesk } from './retrieval.ts';
import { placeShards, repairAt, shardEpochCredits } from './rules.ts';
import type { ChallengeRow } from './verifier.ts';
import {
  type DealRegistration,
  type DealStatus,
  dealRegistrationSchema,
  type Offer,
  offerSchema,
  PROOF_TYPE,
  type ProofBundle,
  proofBodySchema,
  proofBundleSchema,
  type ShardState,
  STORED_TYPE,
  storedBodySchema,
  MAX_BUNDLE_BYTES,
} from './wire.ts';

const SCHEMA = [
  `create table if not exists storage_deals (deal_id text primary key, consumer text not null, registration text not null,
     start_at bigint not null, end_at bigint not null, escrowed text not null, state text not null, repairs int not null default 0,
     created_at bigint not null)`,
  `create table if not exists storage_shards (deal_id text not null, shard int not null, device text, state text not null,
     last_proven int, faults int not null default 0, primary key (deal_id, shard))`,
  'create table if not exists storage_reputation (device text primary key, alpha double precision not null, beta double precision not null)',
  `create table if not exists storage_payments (deal_id text not null, epoch int not null, shard int not null, device text not null,
     amount text not null, attempt_seq int, settled_seq int, primary key (deal_id, epoch, shard))`,
  'create table if not exists storage_providers (device text primary key, first_seen bigint not null, losses int not null default 0)',
];

const DealStatusOnChain = { None: 0, Active: 1, Terminated: 2, Settled: 3, Reclaimed: 4 } as const;
type ChainDeal = {
  consumer: Address;
  start: bigint;
  status: number;
  shards: number;
  network: Hex;
  commitment: Hex;
  escrowed: bigint;
  burned: bigint;
  refunded: bigint;
  end: bigint;
  terminatedAt: bigint;
  bytesStored: bigint;
  seq: bigint;
};

type Shard = { index: number; root: Hex; device: string | null; state: ShardState; lastProven: number | null; faults: number };
type Deal = {
  reg: DealRegistration;
  consumer: string;
  shardBytes: number;
  commitment: Hex;
  rootPaths: Hex[][];
  start: number;
  end: number;
  /** When accrual stops (the end, or the termination). */
  stop: number;
  escrowed: bigint;
  state: 'active' | 'ended';
  repairs: number;
  shards: Shard[];
  finalSent: boolean;
};
type Challenge = Omit<ChallengeRow, 'outcome' | 'reason' | 'receivedAt' | 'faultRun' | 'report' | 'bundle'> & { resolved: boolean };
type Provider = Offer & { device: string; owner: string };

const SHARD_FETCH_TIMEOUT_MS = 120_000;
/** How often a deal's settlement pass runs (the loop ticks every 250 ms). */
const SETTLE_EVERY_MS = 2_000;

export function storageService(ctx: ServiceContext<StorageParameters>): NetworkService {
  const p = ctx.parameters;
  const repParams = {
    lambda: p.reputationLambdaPpm / 1e6,
    weight: p.reputationWeight,
    disqualifyBelow: p.disqualifyBelowPpm / 1e6,
    initialAlpha: p.initialAlpha,
  };
  const dealsAddress = ctx.chain.addresses.deals as Address | undefined;
  // Settlements go out from a quorum key that neither posts roots (the first) nor settles compute
  // jobs (the last), so the three never race for one account's nonce; with fewer keys, the last.
  const sender: LocalAccount | undefined = ctx.chain.signers.length >= 3 ? ctx.chain.signers[1] : ctx.chain.signers.at(-1);
  const providers = new Map<string, Provider>();
  const deals = new Map<string, Deal>();
  const reputation = new Map<string, Reputation>();
  const challenges = new Map<string, Challenge>();
  const bundles = new Map<Hex, { bundle: ProofBundle; at: number }>();
  /** Epochs whose challenges went out (and their entropy). */
  const rounds = new Map<number, { blockHash: Hex; random: Hex }>();
  /** Per deal: the earliest time its next settlement pass may run. */
  const settleAt = new Map<string, number>();
  const firstSeen = new Map<string, number>();
  let losses = 0;
  let timer: NodeJS.Timeout | null = null;
  const stats = {
    deals: 0,
    challenges: 0,
    passed: 0,
    failed: 0,
    unanswered: 0,
    repairs: 0,
    settlements: 0,
    lastError: null as string | null,
  };

  // Paid reads: orders the providers show before serving, settled per allowance.
  const retrieval = retrievalDesk(ctx, sender, (deal, shard) => {
    const d = deals.get(deal);
    const s = d?.state === 'active' ? d.shards[shard] : undefined;
    return d && s ? { device: s.device, shardBytes: d.shardBytes } : null;
  });

  const key = (deal: string, shard: number, epoch: number) => `${deal}/${shard}/${epoch}`;
  const rep = (device: string) => reputation.get(device) ?? initialReputation(repParams);

  async function readDeal(dealId: Hex): Promise<ChainDeal> {
    if (!dealsAddress) throw new ServiceError(503, 'no-deals-contract', 'this deployment has no storage deals contract');
    return (await ctx.chain.client.readContract({
      address: dealsAddress,
      abi: StorageDealsAbi,
      functionName: 'deal',
      args: [dealId],
    })) as ChainDeal;
  }

  function candidates(): { device: string; owner: string; freeBytes: number; reputation: number }[] {
    return [...providers.values()]
      .filter((o) => ctx.isConnected(o.device as Hex) && !isDisqualified(rep(o.device), repParams))
      .map((o) => ({ device: o.device, owner: o.owner, freeBytes: o.freeBytes, reputation: reputationScore(rep(o.device)) }));
  }

  function hold(deal: Deal, s: Shard): boolean {
    return ctx.send(s.device as Hex, {
      type: 'hold',
      deal: deal.reg.dealId,
      shard: s.index,
      root: s.root,
      bytes: deal.shardBytes,
      until: deal.end,
    });
  }

  async function saveShard(deal: Deal, s: Shard): Promise<void> {
    await ctx.db.query(
      `insert into storage_shards (deal_id, shard, device, state, last_proven, faults) values ($1,$2,$3,$4,$5,$6)
       on conflict (deal_id, shard) do update set device = excluded.device, state = excluded.state,
         last_proven = excluded.last_proven, faults = excluded.faults`,
      [deal.reg.dealId, s.index, s.device, s.state, s.lastProven, s.faults],
    );
  }

  async function saveReputation(device: string): Promise<void> {
    const r = rep(device);
    await ctx.db.query(
      'insert into storage_reputation (device, alpha, beta) values ($1,$2,$3) on conflict (device) do update set alpha = $2, beta = $3',
      [device, r.alpha, r.beta],
    );
  }

  async function register(raw: unknown): Promise<DealStatus> {
    const reg = parseWith(dealRegistrationSchema, raw);
    if (reg.shardRoots.length !== reg.layout.n)
      throw new ServiceError(
        400,
        'malformed',
        `shardRoots: the layout has ${reg.layout.n} shards, ${reg.shardRoots.length} roots were given`,
      );
    if (deals.has(reg.dealId)) throw new ServiceError(409, 'duplicate-deal', `deal ${reg.dealId} is already registered`);
    const bytes = shardBytesOf(reg.layout);
    const chain = await readDeal(reg.dealId);
    if (chain.status !== DealStatusOnChain.Active) throw new ServiceError(402, 'no-deal', `deal ${reg.dealId} is not open on chain`);
    if (chain.network !== ctx.networkId) throw new ServiceError(400, 'wrong-network', `deal ${reg.dealId} is not a storage deal`);
    const { commitment, levels } = dealCommitment(
      bytes,
      reg.shardRoots.map((r) => hexToBytes(r)),
    );
    if (bytesToHex(commitment) !== chain.commitment)
      throw new ServiceError(
        400,
        'wrong-commitment',
        `the layout and roots commit to ${bytesToHex(commitment)}; the deal on chain to ${chain.commitment}`,
      );
    if (chain.shards !== reg.layout.n || chain.bytesStored !== BigInt(bytes * reg.layout.n))
      throw new ServiceError(
        400,
        'wrong-size',
        `the deal on chain stores ${chain.shards} shards, ${chain.bytesStored} bytes; the layout ${reg.layout.n} of ${bytes}`,
      );
    const placed = placeShards(candidates(), reg.layout.n, bytes, reg.dealId);
    if (!placed)
      throw new ServiceError(
        503,
        'not-enough-providers',
        `${reg.layout.n} providers with ${bytes} bytes free are needed; ${candidates().filter((c) => c.freeBytes >= bytes).length} are connected`,
      );
    const deal: Deal = {
      reg,
      consumer: chain.consumer.toLowerCase(),
      shardBytes: bytes,
      commitment: chain.commitment,
      rootPaths: reg.shardRoots.map((_, i) => merklePath(levels, i).map((x) => bytesToHex(x))),
      start: Number(chain.start),
      end: Number(chain.end),
      stop: Number(chain.end),
      escrowed: chain.escrowed,
      state: 'active',
      repairs: 0,
      shards: reg.shardRoots.map((root, i) => ({ index: i, root, device: placed[i]!, state: 'placed', lastProven: null, faults: 0 })),
      finalSent: false,
    };
    await ctx.db.transaction(async (tx) => {
      await tx.query(
        'insert into storage_deals (deal_id, consumer, registration, start_at, end_at, escrowed, state, created_at) values ($1,$2,$3,$4,$5,$6,$7,$8)',
        [reg.dealId, deal.consumer, JSON.stringify(reg), deal.start, deal.end, deal.escrowed.toString(), 'active', Date.now()],
      );
      for (const s of deal.shards)
        await tx.query('insert into storage_shards (deal_id, shard, device, state, faults) values ($1,$2,$3,$4,0)', [
          reg.dealId,
          s.index,
          s.device,
          s.state,
        ]);
    });
    deals.set(reg.dealId, deal);
    for (const s of deal.shards) {
      hold(deal, s);
      const o = providers.get(s.device!);
      if (o) o.freeBytes = Math.max(0, o.freeBytes - bytes);
    }
    stats.deals++;
    ctx.log(
      `deal ${reg.dealId.slice(0, 10)}: ${reg.layout.n} shards of ${bytes} bytes placed on ${new Set(deal.shards.map((s) => providers.get(s.device!)?.owner)).size} owners`,
    );
    return statusOf(deal);
  }

  function statusOf(deal: Deal): DealStatus {
    const healthy = deal.shards.filter((s) => s.state === 'stored').length;
    const days = [...firstSeen.values()].reduce((a, t) => a + Math.max(0, Date.now() - t) / 86_400_000, 0);
    const lossPerDay = observedLossPerDay(losses, days);
    const d = durability(healthy, deal.reg.layout.k, lossPerDay, 1);
    return {
      dealId: deal.reg.dealId,
      consumer: deal.consumer,
      cid: deal.reg.cid,
      name: deal.reg.name,
      layout: deal.reg.layout,
      shardBytes: deal.shardBytes,
      state: deal.state,
      start: deal.start,
      end: deal.end,
      shards: deal.shards.map((s) => ({
        index: s.index,
        device: s.device,
        url: s.device ? (providers.get(s.device)?.url ?? null) : null,
        state: s.state,
        root: s.root,
        lastProven: s.lastProven,
        faults: s.faults,
      })),
      healthy,
      repairs: deal.repairs,
      durability: { lossPerDay, lossPerYear: d.lossPerYear, nines: Number.isFinite(d.nines) ? d.nines : null },
      retrievalCreditsPerGB: p.retrievalCreditsPerGB,
    };
  }

  // ---------------------------------------------------------------- challenges

  async function issueRound(epoch: number): Promise<void> {
    const block = await ctx.chain.client.getBlock();
    const round = { blockHash: block.hash as Hex, random: bytesToHex(randomBytes(32)) };
    rounds.set(epoch, round);
    const entropy = challengeEntropy(round.blockHash, round.random);
    const deadline = Math.min(Date.now() + p.proofDeadlineMs, ctx.clock.end(epoch) * 1000);
    for (const deal of deals.values()) {
      if (deal.state !== 'active' || ctx.clock.start(epoch) >= deal.stop) continue;
      for (const s of deal.shards) {
        if (s.state !== 'stored' || !s.device) continue;
        const leaves = challengedLeaves(entropy, deal.reg.dealId, s.index, epoch, deal.shardBytes, p.challengedLeaves);
        const c: Challenge = {
          deal: deal.reg.dealId,
          shard: s.index,
          epoch,
          device: s.device,
          commitment: deal.commitment,
          shards: deal.shards.length,
          shardBytes: deal.shardBytes,
          root: s.root,
          rootPath: deal.rootPaths[s.index]!,
          ...round,
          leaves,
          deadline,
          resolved: false,
        };
        challenges.set(key(c.deal, c.shard, epoch), c);
        stats.challenges++;
        const sent = ctx.send(s.device as Hex, { type: 'challenge', deal: c.deal, shard: c.shard, epoch, leaves, deadline });
        if (!sent) await resolve(c, 'unanswered', 'the provider was not connected when the challenge went out', null, null, null);
      }
    }
  }

  /** Records a challenge's outcome: the epoch's oracle input, the shard's faults, the payment, the reputation. */
  async function resolve(
    c: Challenge,
    outcome: ChallengeRow['outcome'],
    reason: string,
    receivedAt: number | null,
    report: unknown,
    bundle: ProofBundle | null,
  ): Promise<void> {
    if (c.resolved) return;
    c.resolved = true;
    const deal = deals.get(c.deal);
    const s = deal?.shards[c.shard];
    const { resolved: _, ...row } = c;
    const passed = outcome === 'passed';
    if (passed) stats.passed++;
    else if (outcome === 'unanswered') stats.unanswered++;
    else stats.failed++;
    reputation.set(c.device, recordAudit(rep(c.device), passed, repParams));
    if (s && s.device === c.device) {
      if (passed) {
        s.faults = 0;
        s.lastProven = c.epoch;
      } else s.faults++;
      if (!passed && s.faults >= p.faultsToRepair && s.state === 'stored') {
        s.state = 'lost';
        losses++;
        ctx.log(`deal ${c.deal.slice(0, 10)}: shard ${c.shard} on ${c.device.slice(0, 10)} is lost (${s.faults} failed proofs: ${reason})`);
      }
    }
    // The run of faults goes into the epoch's input: the one that makes the shard lost is slashed.
    const faultRun = !passed && s && s.device === c.device ? s.faults : 0;
    const input: ChallengeRow = { ...row, outcome, reason, receivedAt, faultRun, report, bundle };
    await ctx.db.transaction(async (tx) => {
      await tx.query('insert into oracle_inputs (network, epoch, input) values ($1, $2, $3)', [ctx.network, c.epoch, canonicalJson(input)]);
      // Earned, to be priced when it is settled (settle: after the epoch, against the deal on chain).
      if (deal && passed)
        await tx.query(
          "insert into storage_payments (deal_id, epoch, shard, device, amount) values ($1,$2,$3,$4,'0') on conflict do nothing",
          [c.deal, c.epoch, c.shard, c.device],
        );
      if (s && deal)
        await tx.query('update storage_shards set state = $3, last_proven = $4, faults = $5 where deal_id = $1 and shard = $2', [
          c.deal,
          c.shard,
          s.state,
          s.lastProven,
          s.faults,
        ]);
      if (s?.state === 'lost') await tx.query('update storage_providers set losses = losses + 1 where device = $1', [c.device]);
    });
    await saveReputation(c.device);
    if (!passed)
      ctx.log(
        `deal ${c.deal.slice(0, 10)}: shard ${c.shard} on ${c.device.slice(0, 10)} failed epoch ${c.epoch}'s proof: ${outcome}: ${reason}`,
      );
  }

  async function onProof(accepted: AcceptedReport): Promise<void> {
    const body = proofBodySchema.safeParse(accepted.report.body);
    if (!body.success) return;
    const c = challenges.get(key(body.data.deal, body.data.shard, body.data.epoch));
    if (!c || c.resolved || c.device !== accepted.report.device) return;
    const held = bundles.get(body.data.answer);
    if (!held) return; // the bundle comes first; without it the challenge goes unanswered
    bundles.delete(body.data.answer);
    const { bundle } = held;
    if (accepted.receivedAt > c.deadline)
      return resolve(
        c,
        'late',
        `answered ${accepted.receivedAt - c.deadline} ms after the deadline`,
        accepted.receivedAt,
        accepted.report,
        bundle,
      );
    const check = checkShardProof(hexToBytes(c.root as Hex), c.shardBytes, c.leaves, leafAnswers(bundle));
    if (check.ok) return resolve(c, 'passed', '', accepted.receivedAt, accepted.report, bundle);
    return resolve(c, 'failed', `${check.reason}: ${check.detail}`, accepted.receivedAt, accepted.report, bundle);
  }

  async function onStored(accepted: AcceptedReport): Promise<void> {
    const body = storedBodySchema.safeParse(accepted.report.body);
    if (!body.success) return;
    const deal = deals.get(body.data.deal);
    const s = deal?.shards[body.data.shard];
    if (!deal || !s || s.device !== accepted.report.device || s.root !== body.data.root) return;
    if (s.state === 'stored') return;
    s.state = 'stored';
    s.faults = 0;
    await saveShard(deal, s);
  }

  // ---------------------------------------------------------------- repair

  async function fetchShard(deal: Deal, s: Shard): Promise<Uint8Array | null> {
    const url = s.device && providers.get(s.device)?.url;
    if (!url) return null;
    try {
      const headers = await repairOrderHeader(deal, s);
      const res = await fetch(`${url}shards/${deal.reg.dealId}/${s.index}`, {
        headers,
        signal: AbortSignal.timeout(SHARD_FETCH_TIMEOUT_MS),
      });
      if (!res.ok) return null;
      const bytes = new Uint8Array(await res.arrayBuffer());
      return bytesToHex(shardRoot(bytes)) === s.root ? bytes : null;
    } catch {
      return null;
    }
  }

  /** The network's own read carries an order its key signs, with no allowance: it pays nothing. */
  async function repairOrderHeader(deal: Deal, s: Shard): Promise<Record<string, string>> {
    const escrow = ctx.chain.addresses.escrow as Address | undefined;
    if (!escrow || !sender) return {};
    const order = await signOrder(sender, orderDomain(ctx.chain.chainId, escrow), {
      allowance: REPAIR_ALLOWANCE,
      deal: deal.reg.dealId,
      shard: s.index,
      device: s.device as Hex,
      offset: 0,
      length: deal.shardBytes,
      credits: '0',
      serial: bytesToHex(randomBytes(32)),
    });
    return { [ORDER_HEADER]: encodeOrderHeader(order) };
  }

  async function putShard(url: string, deal: Deal, index: number, bytes: Uint8Array): Promise<void> {
    const res = await fetch(`${url}shards/${deal.reg.dealId}/${index}`, {
      method: 'PUT',
      body: bytes as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(SHARD_FETCH_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    await res.body?.cancel();
  }

  /** Why a repair cannot go ahead, logged once until the reason changes (it is retried every tick). */
  const repairNotes = new Map<string, string>();
  function stuck(deal: Deal, line: string): void {
    if (repairNotes.get(deal.reg.dealId) === line) return;
    repairNotes.set(deal.reg.dealId, line);
    ctx.log(`deal ${deal.reg.dealId.slice(0, 10)}: ${line}`);
  }

  async function repair(deal: Deal): Promise<void> {
    const { k, n } = deal.reg.layout;
    for (const s of deal.shards) {
      // A disqualified provider's shards are lost whatever their proofs say (Storj repairs them).
      if (s.state === 'stored' && s.device && isDisqualified(rep(s.device), repParams)) {
        s.state = 'lost';
        await saveShard(deal, s);
      }
    }
    const healthy = deal.shards.filter((s) => s.state === 'stored');
    const lost = deal.shards.filter((s) => s.state === 'lost');
    if (!lost.length || healthy.length > repairAt(p.repairThreshold, k, n)) return;
    if (healthy.length < k) return stuck(deal, `only ${healthy.length} of ${k} shards are healthy; it cannot be repaired`);
    const pieces: (Uint8Array | null)[] = new Array(n).fill(null);
    let have = 0;
    for (const s of healthy) {
      if (have >= k) break;
      const bytes = await fetchShard(deal, s);
      if (bytes) {
        pieces[s.index] = bytes;
        have++;
      }
    }
    if (have < k) return stuck(deal, `fetched ${have} of the ${k} shards a repair needs; trying again`);
    const rebuilt = rebuildShards(
      deal.reg.layout,
      pieces,
      lost.map((s) => s.index),
    );
    const exclude = new Set(deal.shards.map((s) => s.device).filter((d): d is string => d !== null));
    const owners = new Map<string, number>();
    for (const s of healthy) {
      const o = providers.get(s.device!)?.owner;
      if (o) owners.set(o, (owners.get(o) ?? 0) + 1);
    }
    const targets = placeShards(candidates(), lost.length, deal.shardBytes, deal.reg.dealId, exclude, owners);
    if (!targets) return stuck(deal, `no providers with room for ${lost.length} repaired shard(s); trying again`);
    repairNotes.delete(deal.reg.dealId);
    for (const [j, s] of lost.entries()) {
      if (bytesToHex(shardRoot(rebuilt[j]!)) !== s.root)
        throw new Error(`rebuilt shard ${s.index} of ${deal.reg.dealId} does not reach its root`);
      const from = s.device;
      const to = targets[j]!;
      s.device = to;
      s.state = 'repairing';
      s.faults = 0;
      await saveShard(deal, s);
      hold(deal, s);
      try {
        await putShard(providers.get(to)!.url, deal, s.index, rebuilt[j]!);
      } catch (err) {
        s.state = 'lost';
        await saveShard(deal, s);
        ctx.log(
          `deal ${deal.reg.dealId.slice(0, 10)}: uploading repaired shard ${s.index} to ${to.slice(0, 10)} failed: ${(err as Error).message}`,
        );
        continue;
      }
      if (from) ctx.send(from as Hex, { type: 'drop', deal: deal.reg.dealId, shard: s.index });
      deal.repairs++;
      stats.repairs++;
      await ctx.db.query('update storage_deals set repairs = $2 where deal_id = $1', [deal.reg.dealId, deal.repairs]);
      ctx.log(
        `deal ${deal.reg.dealId.slice(0, 10)}: shard ${s.index} rebuilt from ${k} shards and moved from ${from?.slice(0, 10)} to ${to.slice(0, 10)}`,
      );
    }
  }

  // ---------------------------------------------------------------- settlement

  async function settle(deal: Deal, now: number): Promise<void> {
    if (!dealsAddress || !sender || deal.finalSent) return;
    // Each pass reads the deal from the chain (a termination is learnt there): at most every
    // SETTLE_EVERY_MS per deal, not every tick; a pass that failed waits as long before its retry.
    if ((settleAt.get(deal.reg.dealId) ?? 0) > now) return;
    settleAt.set(deal.reg.dealId, now + SETTLE_EVERY_MS);
    const chain = await readDeal(deal.reg.dealId as Hex);
    if (chain.status === DealStatusOnChain.Settled || chain.status === DealStatusOnChain.Reclaimed) {
      deal.finalSent = true;
      return end(deal);
    }
    if (chain.status === DealStatusOnChain.Terminated) deal.stop = Math.min(deal.end, Number(chain.terminatedAt));
    const seq = Number(chain.seq);
    await ctx.db.query(
      'update storage_payments set settled_seq = attempt_seq where deal_id = $1 and attempt_seq <= $2 and settled_seq is null',
      [deal.reg.dealId, seq],
    );
    const next = seq + 1;
    // Only epochs that have ended: before that the deal has not accrued what their proofs earned.
    const closedBefore = ctx.clock.epochAt(Math.floor(now / 1000));
    // What each proven shard-epoch earns is fixed now, against the deal as the chain has it: a
    // termination stops accrual part way through an epoch whose proofs came before it.
    // A settlement `next` already sent whose receipt never came may still land: it is sent again
    // exactly as it was (see retrieval.ts), non-final, and what else is due waits for the next.
    const resent = (
      await ctx.db.query<{ epoch: number; shard: number; device: string; amount: string }>(
        'select epoch, shard, device, amount from storage_payments where deal_id = $1 and attempt_seq = $2 and settled_seq is null',
        [deal.reg.dealId, next],
      )
    )
      .map((r) => ({ ...r, amount: BigInt(r.amount) }))
      .filter((r) => r.amount > 0n);
    const taken = resent.length
      ? resent
      : await ctx.db.transaction(async (tx) => {
          const rows = await tx.query<{ epoch: number; shard: number; device: string }>(
            'update storage_payments set attempt_seq = $2 where deal_id = $1 and settled_seq is null and epoch < $3 returning epoch, shard, device',
            [deal.reg.dealId, next, closedBefore],
          );
          const shape = { start: deal.start, end: deal.end, stop: deal.stop, shards: deal.shards.length };
          const out = rows.map((r) => ({
            ...r,
            amount: shardEpochCredits(deal.escrowed, shape, ctx.clock.start(r.epoch), ctx.clock.end(r.epoch)),
          }));
          for (const r of out)
            await tx.query('update storage_payments set amount = $4 where deal_id = $1 and epoch = $2 and shard = $3', [
              deal.reg.dealId,
              r.epoch,
              r.shard,
              r.amount.toString(),
            ]);
          return out.filter((r) => r.amount > 0n);
        });
    const byDevice = new Map<string, bigint>();
    for (const r of taken) byDevice.set(r.device, (byDevice.get(r.device) ?? 0n) + r.amount);
    const due = [...byDevice].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // Final once accrual stopped and the epoch it stopped in has ended (its proofs are all in).
    const isFinal = !resent.length && ctx.clock.end(ctx.clock.epochAt(Math.max(deal.start, deal.stop - 1))) * 1000 <= now;
    if (!due.length && !isFinal) return;
    const message = {
      dealId: deal.reg.dealId as Hex,
      consumer: chain.consumer,
      network: ctx.networkId,
      seq: BigInt(next),
      deviceIds: due.map(([d]) => BigInt(d)),
      amounts: due.map(([, a]) => a),
      isFinal,
    };
    await sendSettlement(ctx.chain, sender, { deals: dealsAddress, message });
    await ctx.db.query('update storage_payments set settled_seq = $2 where deal_id = $1 and attempt_seq = $2', [deal.reg.dealId, next]);
    stats.settlements++;
    if (isFinal) {
      deal.finalSent = true;
      await end(deal);
    }
  }

  /** The deal is over: its providers drop their shards. */
  async function end(deal: Deal): Promise<void> {
    if (deal.state === 'ended') return;
    deal.state = 'ended';
    settleAt.delete(deal.reg.dealId);
    await ctx.db.query("update storage_deals set state = 'ended' where deal_id = $1", [deal.reg.dealId]);
    for (const s of deal.shards) {
      if (s.device) ctx.send(s.device as Hex, { type: 'drop', deal: deal.reg.dealId, shard: s.index });
    }
    ctx.log(`deal ${deal.reg.dealId.slice(0, 10)}: ended; its shards are dropped`);
  }

  // ---------------------------------------------------------------- the loop

  // Two loops, each one pass at a time: proofs (rounds and deadlines: they must keep time) and
  // deals (repair and settlement: shard transfers and transactions that take seconds). When a
  // repair held up the rounds, challenges went out late, their deadlines were cut at the epoch's
  // end, honest providers missed them, and the losses fed more repairs.
  async function proofStep(): Promise<void> {
    const now = Date.now();
    const epoch = ctx.clock.epochAtMs(now);
    if (!rounds.has(epoch)) await issueRound(epoch);
    for (const [k, c] of challenges) {
      if (!c.resolved && now > c.deadline)
        await resolve(c, 'unanswered', `no proof came before ${new Date(c.deadline).toISOString()}`, null, null, null);
      if (c.resolved && c.epoch < epoch - 1) challenges.delete(k);
    }
    for (const [h, b] of bundles) if (now - b.at > 10 * 60_000) bundles.delete(h);
    for (const e of rounds.keys()) if (e < epoch - 2) rounds.delete(e);
  }

  async function dealStep(): Promise<void> {
    const now = Date.now();
    for (const deal of deals.values()) {
      if (deal.state !== 'active') continue;
      try {
        await repair(deal);
        await settle(deal, now);
      } catch (err) {
        stats.lastError = why(err);
        ctx.log(`deal ${deal.reg.dealId.slice(0, 10)}: ${stats.lastError}`);
      }
    }
    await retrieval.step(now);
  }

  /** The first line of an error, with the contract's custom error when a call reverted. */
  function why(err: unknown): string {
    const e = err as Error & { walk?: (fn: (x: unknown) => boolean) => unknown };
    const found = e.walk?.((x) => (x as { data?: { errorName?: string } })?.data?.errorName !== undefined) as
      | { data: { errorName: string; args?: readonly unknown[] } }
      | undefined;
    const first = e.message.split('\n')[0]!;
    return found ? `${first} ${found.data.errorName}(${(found.data.args ?? []).map(String).join(', ')})` : first;
  }

  const running = { proofs: false, deals: false };
  function loop(which: keyof typeof running, step: () => Promise<void>): void {
    if (running[which]) return;
    running[which] = true;
    step()
      .catch((err) => {
        stats.lastError = why(err);
        ctx.log(`storage: ${stats.lastError}`);
      })
      .finally(() => {
        running[which] = false;
      });
  }
  function tick(): void {
    loop('proofs', proofStep);
    loop('deals', dealStep);
  }

  const routes: ServiceRoute[] = [
    ...retrieval.routes,
    {
      method: 'POST',
      path: 'deals',
      handle: async (req) => {
        const raw = jsonBody(req);
        return { status: 201, json: await register(raw) };
      },
    },
    {
      method: 'GET',
      path: 'deals/(0x[0-9a-f]{64})',
      handle: async (req) => {
        const deal = deals.get(req.params[0]!);
        if (!deal) throw new ServiceError(404, 'unknown-deal', `no deal ${req.params[0]} on this oracle`);
        return { json: statusOf(deal) };
      },
    },
    {
      method: 'GET',
      path: 'deals',
      handle: async (req) => {
        const consumer = req.query.get('consumer')?.toLowerCase();
        const list = [...deals.values()].filter((d) => !consumer || d.consumer === consumer);
        return { json: { deals: list.map(statusOf) } };
      },
    },
    {
      method: 'POST',
      path: 'proofs',
      maxBodyBytes: MAX_BUNDLE_BYTES,
      handle: async (req) => {
        const b = parseJsonBody(req, proofBundleSchema);
        const c = challenges.get(key(b.deal, b.shard, b.epoch));
        if (!c) throw new ServiceError(404, 'unknown-challenge', `no challenge of shard ${b.shard} of ${b.deal} in epoch ${b.epoch}`);
        if (c.device !== b.device)
          throw new ServiceError(403, 'not-your-shard', `shard ${b.shard} of ${b.deal} is held by ${c.device}, not ${b.device}`);
        if (c.resolved)
          throw new ServiceError(409, 'already-resolved', `the challenge of shard ${b.shard} of ${b.deal} in epoch ${b.epoch} is closed`);
        const answer = bundleHash(b);
        bundles.set(answer, { bundle: b, at: Date.now() });
        return { status: 202, json: { answer } };
      },
    },
  ];

  return {
    schema: [...SCHEMA, ...retrieval.schema],
    routes,
    async onConnection(device, hello) {
      if (!hello) return;
      const offer = offerSchema.safeParse(hello);
      const known = ctx.device(device);
      if (!offer.success || !known) return ctx.log(`device ${device.slice(0, 10)} sent a malformed offer`);
      providers.set(device, { ...offer.data, device, owner: known.owner.toLowerCase() });
      if (!firstSeen.has(device)) {
        firstSeen.set(device, Date.now());
        await ctx.db.query('insert into storage_providers (device, first_seen) values ($1, $2) on conflict do nothing', [
          device,
          Date.now(),
        ]);
      }
      // What it should hold, again: a provider that restarted keeps its holds on disk, and one
      // that lost them is told once more.
      for (const deal of deals.values()) {
        if (deal.state !== 'active') continue;
        for (const s of deal.shards) if (s.device === device && s.state !== 'lost') hold(deal, s);
      }
    },
    async onReport(accepted) {
      if (accepted.report.type === PROOF_TYPE) await onProof(accepted);
      else if (accepted.report.type === STORED_TYPE) await onStored(accepted);
    },
    async start() {
      for (const r of await ctx.db.query<{ device: string; alpha: number; beta: number }>(
        'select device, alpha, beta from storage_reputation',
      ))
        reputation.set(r.device, { alpha: Number(r.alpha), beta: Number(r.beta) });
      for (const r of await ctx.db.query<{ device: string; first_seen: string; losses: number }>(
        'select device, first_seen, losses from storage_providers',
      )) {
        firstSeen.set(r.device, Number(r.first_seen));
        losses += Number(r.losses);
      }
      const rows = await ctx.db.query<{
        deal_id: string;
        consumer: string;
        registration: string;
        start_at: string;
        end_at: string;
        escrowed: string;
        state: string;
        repairs: number;
      }>('select deal_id, consumer, registration, start_at, end_at, escrowed, state, repairs from storage_deals order by created_at');
      for (const r of rows) {
        const reg = dealRegistrationSchema.parse(JSON.parse(r.registration));
        const bytes = shardBytesOf(reg.layout);
        const { commitment, levels } = dealCommitment(
          bytes,
          reg.shardRoots.map((x) => hexToBytes(x)),
        );
        const shards = await ctx.db.query<{
          shard: number;
          device: string | null;
          state: string;
          last_proven: number | null;
          faults: number;
        }>('select shard, device, state, last_proven, faults from storage_shards where deal_id = $1 order by shard', [r.deal_id]);
        deals.set(r.deal_id, {
          reg,
          consumer: r.consumer,
          shardBytes: bytes,
          commitment: bytesToHex(commitment),
          rootPaths: reg.shardRoots.map((_, i) => merklePath(levels, i).map((x) => bytesToHex(x))),
          start: Number(r.start_at),
          end: Number(r.end_at),
          stop: Number(r.end_at),
          escrowed: BigInt(r.escrowed),
          state: r.state as Deal['state'],
          repairs: Number(r.repairs),
          // A repair cut short by a restart is lost again (the upload may not have landed).
          shards: shards.map((s) => ({
            index: s.shard,
            root: reg.shardRoots[s.shard]!,
            device: s.device,
            state: (s.state === 'repairing' ? 'lost' : s.state) as ShardState,
            lastProven: s.last_proven === null ? null : Number(s.last_proven),
            faults: Number(s.faults),
          })),
          finalSent: r.state === 'ended',
        });
      }
      // Challenges start with the next epoch: this one's may have gone out before a restart.
      rounds.set(ctx.clock.epochAtMs(Date.now()), { blockHash: `0x${'0'.repeat(64)}`, random: `0x${'0'.repeat(64)}` });
      timer = setInterval(tick, 250);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      while (running.proofs || running.deals) await new Promise((r) => setTimeout(r, 20));
    },
    status: () => ({
      providers: providers.size,
      active: [...deals.values()].filter((d) => d.state === 'active').length,
      ...stats,
      retrieval: retrieval.status(),
    }),
  };
}
